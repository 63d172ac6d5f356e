import dataclasses
import json

import pytest

from promptcrop.config import (
    DEFAULT_MODEL_ID,
    PAPER,
    PRESETS,
    TINY,
    DecoderConfig,
    ModelConfig,
    config_from_dict,
    config_to_dict,
    get_preset,
    upgrade_model_keys,
)
from promptcrop.defaults import MODE_CHOICES, MODES
from promptcrop.model import decoder as decoder_module


def test_paper_preset_is_the_paper_setting():
    config = get_preset("paper")
    assert config.encoder_id == "google/owlvit-base-patch32" == DEFAULT_MODEL_ID
    assert config.query_parts == "both"
    d = config.decoder
    assert (d.token_dim, d.d_model, d.n_heads, d.n_layers, d.ffn_dim, d.n_queries) == (
        768, 512, 8, 6, 2048, 90,
    )


def test_tiny_preset_inherits_everything_but_the_decoder_size():
    tiny = get_preset("tiny")
    d = tiny.decoder
    assert (d.d_model, d.n_layers, d.n_heads, d.ffn_dim, d.n_queries) == (32, 2, 4, 64, 90)
    assert dataclasses.replace(tiny, decoder=PAPER.decoder) == PAPER
    assert d.dropout == PAPER.decoder.dropout and d.min_box_size == PAPER.decoder.min_box_size


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="paper.*tiny"):
        get_preset("huge")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(name):
    config = PRESETS[name]
    text = json.dumps(config.to_dict())
    assert ModelConfig.from_dict(json.loads(text)) == config


def test_missing_keys_take_defaults():
    assert ModelConfig.from_dict({"decoder": {"n_layers": 2}}) == dataclasses.replace(
        PAPER, decoder=dataclasses.replace(PAPER.decoder, n_layers=2)
    )


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match="colour"):
        ModelConfig.from_dict({**PAPER.to_dict(), "colour": "red"})
    data = TINY.to_dict()
    data["decoder"]["n_layer"] = 3  # typo of n_layers
    with pytest.raises(ValueError, match="n_layer"):
        ModelConfig.from_dict(data)


def test_from_dict_validates_values():
    with pytest.raises(ValueError, match="d_model"):
        config_from_dict(DecoderConfig, {"d_model": 30, "n_heads": 4})
    with pytest.raises(ValueError, match="mapping"):
        ModelConfig.from_dict(["paper"])


@pytest.mark.parametrize(
    "changes",
    [
        {"encoder_id": ""},
        {"encoder_id": 3},
        {"decoder": {"d_model": 32}},
        {"query_parts": "title"},
        {"query_parts": None},
    ],
)
def test_invalid_model_config(changes):
    with pytest.raises(ValueError):
        dataclasses.replace(PAPER, **changes)


@pytest.mark.parametrize(
    ("legacy", "query_parts"),
    [
        ({"use_full_text": True, "use_keywords": True}, "both"),
        ({"use_keywords": False}, "text"),
        ({"use_full_text": False}, "keywords"),
        ({"use_full_text": False, "use_keywords": True, "query_parts": "keywords"}, "keywords"),
    ],
)
def test_older_boolean_query_keys_still_load(legacy, query_parts):
    """Configs written before ``query_parts`` existed spelled the choice as two booleans."""
    data = {k: v for k, v in PAPER.to_dict().items() if k != "query_parts"}
    assert ModelConfig.from_dict({**data, **legacy}).query_parts == query_parts


@pytest.mark.parametrize(
    ("legacy", "message"),
    [
        ({"use_full_text": False, "use_keywords": False}, "cannot both be false"),
        ({"use_keywords": "yes"}, "use_keywords must be true or false"),
        ({"use_keywords": False, "query_parts": "keywords"}, "contradicts"),
    ],
)
def test_older_boolean_query_keys_are_checked(legacy, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(legacy)


def test_upgrade_leaves_current_dicts_alone():
    data = PAPER.to_dict()
    upgraded = upgrade_model_keys(data)
    assert upgraded == data and upgraded is not data


def test_modes_are_defined_once():
    assert MODES == ("clipcrop", "zeroshot", "offline")
    assert MODE_CHOICES == ("auto", *MODES)


def test_decoder_config_lives_in_config_and_is_reexported():
    assert decoder_module.DecoderConfig is DecoderConfig


def test_config_to_dict_rejects_non_configs():
    with pytest.raises(TypeError):
        config_to_dict({"d_model": 3})
    assert config_to_dict(TINY.decoder)["d_model"] == 32
