"""ServeSettings validation and the PROMPTCROP_API_KEY fallback."""

from __future__ import annotations

import pytest

from promptcrop.options import PredictorOptions
from promptcrop.serve.settings import API_KEY_ENV, ServeSettings


def test_defaults_listen_on_loopback_with_cors_off():
    settings = ServeSettings()
    assert settings.loopback and settings.host == "127.0.0.1"
    assert settings.cors_origins == () and settings.api_key is None
    assert settings.max_upload_bytes == 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", 70000), ("port", -1), ("threads", 0), ("max_queue", -1), ("max_upload_mb", 0),
     ("timeout_s", -1.0), ("api_key", " "), ("cors_origins", ("example.com",)),
     ("host", "")],
)
def test_bad_values_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0] if field != "cors_origins" else "CORS"):
        ServeSettings(**{field: value})


def test_the_predictor_options_are_validated_by_their_own_dataclass():
    with pytest.raises(ValueError, match="max_pixels"):
        ServeSettings(predictor=PredictorOptions(max_pixels=0))
    assert ServeSettings(predictor=PredictorOptions(max_pixels=1000)).max_pixels == 1000


def test_api_key_comes_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    assert ServeSettings.with_env_key().api_key == "from-env"
    assert ServeSettings.with_env_key(api_key="given").api_key == "given"
    monkeypatch.delenv(API_KEY_ENV)
    assert ServeSettings.with_env_key().api_key is None
