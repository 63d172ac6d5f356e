import json
import socket

import pytest
import torch

from promptcrop import __version__
from promptcrop.config import TINY
from promptcrop.errors import CheckpointError, ModelUnavailableError
from promptcrop.model.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    EncoderInfo,
    check_encoder,
    load_decoder,
    read_checkpoint_info,
    save_decoder,
)
from promptcrop.model.decoder import ClipCropDecoder

ENCODER = EncoderInfo("google/owlvit-base-patch32", token_dim=32, embed_dim=16, grid_hw=(24, 24))


@pytest.fixture
def trained_decoder() -> ClipCropDecoder:
    """A tiny decoder with every weight random (as after training), in eval mode."""
    torch.manual_seed(0)
    decoder = ClipCropDecoder(TINY.decoder)
    with torch.no_grad():
        for param in decoder.parameters():
            param.normal_(0.0, 0.1)
    return decoder.eval()


@pytest.fixture
def saved(tmp_path, trained_decoder):
    return save_decoder(trained_decoder, tmp_path / "ckpt", encoder_info=ENCODER, preset="tiny")


def outputs(decoder: ClipCropDecoder) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(1, 576, 32, generator=g)
    selected = torch.randn(1, 2, 32, generator=g)
    with torch.no_grad():
        out = decoder(tokens, (24, 24), selected, torch.tensor([[True, False]]),
                      torch.tensor([[0.5, 0.4, 0.3, 0.2]]))
    return out.layer_boxes_cxcywh, out.layer_scores


def edit_config(directory, **changes) -> None:
    path = directory / CONFIG_NAME
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_round_trip_is_bit_exact(saved, trained_decoder):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded, info = load_decoder(saved, expected_encoder=ENCODER)
    assert not loaded.training
    expected, actual = trained_decoder.state_dict(), loaded.state_dict()
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
    for a, b in zip(outputs(trained_decoder), outputs(loaded)):
        assert torch.equal(a, b)
    assert info.decoder == TINY.decoder and info.encoder == ENCODER
    assert (info.preset, info.format_version, info.promptcrop_version) == ("tiny", 1, __version__)


def test_config_json_is_plain_and_documented(saved):
    data = json.loads((saved / CONFIG_NAME).read_text())
    assert data["format"] == "promptcrop-decoder" and data["format_version"] == 1
    assert data["encoder"] == {"id": ENCODER.model_id, "token_dim": 32, "embed_dim": 16, "grid_hw": [24, 24]}
    assert data["decoder"]["n_queries"] == 90
    assert data["query_parts"] == "both"


def test_query_parts_round_trip(tmp_path, trained_decoder):
    path = save_decoder(trained_decoder, tmp_path / "kw", encoder_info=ENCODER, query_parts="keywords")
    assert json.loads((path / CONFIG_NAME).read_text())["query_parts"] == "keywords"
    assert read_checkpoint_info(path).query_parts == "keywords"
    assert load_decoder(path)[1].query_parts == "keywords"


def test_checkpoint_without_query_parts_reads_as_both(saved):
    """Checkpoints written before the choice was recorded were trained on full text + keywords."""
    data = json.loads((saved / CONFIG_NAME).read_text())
    assert data.pop("query_parts") == "both"
    (saved / CONFIG_NAME).write_text(json.dumps(data))
    assert read_checkpoint_info(saved).query_parts == "both"


def test_unknown_query_parts_is_refused_on_save_and_load(tmp_path, saved, trained_decoder):
    with pytest.raises(ValueError, match="query_parts"):
        save_decoder(trained_decoder, tmp_path / "x", encoder_info=ENCODER, query_parts="title")
    assert not (tmp_path / "x").exists()
    edit_config(saved, query_parts="title")
    with pytest.raises(CheckpointError, match="query_parts"):
        read_checkpoint_info(saved)


def test_save_is_atomic_and_overwrite_is_explicit(tmp_path, saved, trained_decoder):
    (saved / "README.md").write_text("model card")
    with pytest.raises(CheckpointError, match="overwrite=True"):
        save_decoder(trained_decoder, saved, encoder_info=ENCODER)
    with torch.no_grad():
        trained_decoder.score_head.bias.fill_(3.0)
    save_decoder(trained_decoder, saved, encoder_info=ENCODER, overwrite=True)
    assert torch.equal(load_decoder(saved)[0].score_head.bias, trained_decoder.score_head.bias)
    assert (saved / "README.md").read_text() == "model card"  # other files survive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary leftovers


def test_refuses_to_overwrite_a_directory_that_is_not_a_checkpoint(tmp_path, trained_decoder):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="refusing"):
        save_decoder(trained_decoder, tmp_path, encoder_info=ENCODER, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_save_rejects_encoder_of_another_width(tmp_path, trained_decoder):
    wide = EncoderInfo("google/owlvit-base-patch32", 768, 512, (24, 24))
    with pytest.raises(ValueError, match="token_dim"):
        save_decoder(trained_decoder, tmp_path / "x", encoder_info=wide)


def test_encoder_dimension_mismatch_is_refused_naming_both(saved):
    other = EncoderInfo("google/owlvit-base-patch16", token_dim=32, embed_dim=16, grid_hw=(48, 48))
    with pytest.raises(CheckpointError, match="patch32.*patch16"):
        load_decoder(saved, expected_encoder=other, allow_encoder_mismatch=True)


def test_encoder_id_mismatch_unless_same_name_or_allowed(saved, tmp_path):
    other = EncoderInfo("someone/owlvit-finetuned", 32, 16, (24, 24))
    with pytest.raises(CheckpointError, match="allow_encoder_mismatch"):
        load_decoder(saved, expected_encoder=other)
    load_decoder(saved, expected_encoder=other, allow_encoder_mismatch=True)
    local_copy = EncoderInfo(str(tmp_path / "models" / "owlvit-base-patch32") + "/", 32, 16, (24, 24))
    load_decoder(saved, expected_encoder=local_copy)


def test_check_encoder_accepts_identical():
    check_encoder(ENCODER, ENCODER)


def test_unknown_format_version(saved):
    edit_config(saved, format_version=2)
    with pytest.raises(CheckpointError, match=r"config\.json.*format_version 2"):
        load_decoder(saved)


@pytest.mark.parametrize("name", [CONFIG_NAME, WEIGHTS_NAME])
def test_missing_file_is_named(saved, name):
    (saved / name).unlink()
    with pytest.raises(CheckpointError, match=f"{name}: missing"):
        load_decoder(saved)


def test_malformed_json_and_wrong_format(saved):
    (saved / CONFIG_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: malformed JSON"):
        load_decoder(saved)
    (saved / CONFIG_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a promptcrop decoder checkpoint"):
        load_decoder(saved)


def test_invalid_config_values_name_the_file(saved):
    edit_config(saved, decoder={**TINY.to_dict()["decoder"], "n_layerz": 2})
    with pytest.raises(CheckpointError, match=r"config\.json.*n_layerz"):
        load_decoder(saved)
    edit_config(saved, decoder=TINY.to_dict()["decoder"], encoder={"id": "x"})
    with pytest.raises(CheckpointError, match=r"config\.json.*token_dim"):
        load_decoder(saved)


def test_tensor_shape_mismatch_names_the_weights_file(saved):
    edit_config(saved, decoder={**TINY.to_dict()["decoder"], "ffn_dim": 128})
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*wrong shape"):
        load_decoder(saved)
    edit_config(saved, decoder={**TINY.to_dict()["decoder"], "n_layers": 3})
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*missing layers\.2"):
        load_decoder(saved)


def test_corrupt_weights_file(saved):
    (saved / WEIGHTS_NAME).write_bytes(b"\x00" * 12)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_decoder(saved)


def test_local_paths_that_are_not_directories(tmp_path, saved):
    with pytest.raises(CheckpointError, match="is a file"):
        load_decoder(saved / CONFIG_NAME)
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        load_decoder(tmp_path / "nowhere" / "at" / "all")


def test_hub_id_offline_and_not_cached_never_touches_the_network(tmp_path, no_network):
    with pytest.raises(ModelUnavailableError) as info:  # conftest: Hub offline, sockets refused
        load_decoder("someone/promptcrop-decoder", cache_dir=tmp_path / "hf-cache")
    assert_one_clear_line(str(info.value))


def test_hub_id_unreachable_gives_the_same_clear_line(tmp_path, monkeypatch):
    import huggingface_hub.constants

    def unreachable(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "getaddrinfo", unreachable)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(socket.socket, "connect", unreachable)
    with pytest.raises(ModelUnavailableError) as info:
        load_decoder("someone/promptcrop-decoder", cache_dir=tmp_path / "hf-cache")
    assert_one_clear_line(str(info.value))


def assert_one_clear_line(message: str) -> None:
    assert "'someone/promptcrop-decoder'" in message and "local checkpoint directory" in message
    assert "\n" not in message
