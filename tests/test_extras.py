"""Optional parts: one line naming the extra, for every extra pyproject.toml declares."""

from __future__ import annotations

import sys

import pytest
import tomllib

from paths import REPO_ROOT
from promptcrop import extras
from promptcrop.errors import DatasetError, ModelUnavailableError


def _declared_extras() -> dict[str, list[str]]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["optional-dependencies"]


def test_every_extra_is_declared_and_the_core_needs_no_extra():
    declared = _declared_extras()
    assert set(extras.EXTRAS) == set(declared) - {"dev"}
    core = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {dep.split(">")[0].split("=")[0].split("<")[0].strip().lower() for dep in core}
    assert names == {"numpy", "pillow", "tqdm"}
    assert "promptcrop[" in declared["dev"][0] and all(e in declared["dev"][0] for e in extras.EXTRAS)


def test_transformers_has_an_upper_bound():
    (spec,) = [d for d in _declared_extras()["torch"] if d.startswith("transformers")]
    assert "<" in spec


def test_the_message_is_one_line_naming_the_extra():
    message = extras.missing_message("text queries need", "torch")
    assert message == "text queries need PyTorch: pip install 'promptcrop[torch]'"
    assert extras.extra_of("pyarrow.parquet") == "parquet" and extras.extra_of("ray") == "ray"
    with pytest.raises(ValueError, match="unknown extra"):
        extras.install_hint("gpu")


def test_require_raises_the_callers_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DatasetError, match=r"^Parquet manifests need pyarrow: pip install 'promptcrop\[parquet\]'$"):
        extras.require("pyarrow.parquet", "Parquet manifests need", error=DatasetError)
    with pytest.raises(extras.MissingExtraError) as info:
        extras.require("pyarrow", "Parquet manifests need")
    assert info.value.extra == "parquet" and isinstance(info.value, ModelUnavailableError)
    assert extras.require("json", "anything needs").dumps(1) == "1"


def test_a_module_no_extra_provides_is_not_an_install_problem():
    assert extras.missing_extra(ModuleNotFoundError("x", name="promptcrop_internal_typo"), "it needs") is None
    found = extras.missing_extra(ModuleNotFoundError("x", name="onnxruntime.capi"), "promptcrop crop needs")
    assert str(found) == "promptcrop crop needs ONNX Runtime: pip install 'promptcrop[onnx]'"
