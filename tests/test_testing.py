"""Offline OWL-ViT model directories (promptcrop.testing)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import OwlViTConfig, OwlViTForObjectDetection, OwlViTProcessor

from optional import missing
from promptcrop import testing
from promptcrop.model.encoder import OwlViTEncoder
from promptcrop.testing import build_owlvit_dir, byte_vocab, clip_vocab, owlvit_config


def _has_open_clip() -> bool:
    try:
        importlib.metadata.files("open_clip_torch")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_tiny_dir_loads_through_the_users_from_pretrained_path(tiny_owlvit_dir: Path) -> None:
    model = OwlViTForObjectDetection.from_pretrained(tiny_owlvit_dir, local_files_only=True)
    processor = OwlViTProcessor.from_pretrained(tiny_owlvit_dir, local_files_only=True)
    vision, text = model.config.vision_config, model.config.text_config
    assert (vision.hidden_size, vision.num_hidden_layers) == (32, 2)
    assert (vision.image_size // vision.patch_size) ** 2 == 576
    assert text.max_position_embeddings == 16
    assert text.vocab_size == len(processor.tokenizer)
    assert processor.image_processor.size == {"height": 768, "width": 768}
    size = sum(f.stat().st_size for f in tiny_owlvit_dir.iterdir())
    assert size < 1_000_000


def test_byte_vocab_splits_words_into_characters_and_pools_at_the_highest_id(
    tiny_owlvit_dir: Path,
) -> None:
    tokenizer = OwlViTProcessor.from_pretrained(tiny_owlvit_dir).tokenizer
    vocab, merges = byte_vocab()
    assert merges == [] and len(vocab) == 514
    ids = tokenizer("dog")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "<|startoftext|>", "d", "o", "g</w>", "<|endoftext|>"
    ]
    # OWL-ViT's text model pools at argmax(input_ids): EOS must be the highest id.
    assert tokenizer.eos_token_id == max(vocab.values())
    assert tokenizer.pad_token_id == 0


def test_same_seed_same_weights_and_global_rng_untouched(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = load_file(build_owlvit_dir(tmp_path / "a", seed=7) / "model.safetensors")
    assert torch.equal(torch.rand(3), expected_next)
    again = load_file(build_owlvit_dir(tmp_path / "b", seed=7) / "model.safetensors")
    other = load_file(build_owlvit_dir(tmp_path / "c", seed=8) / "model.safetensors")
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_initial_boxes_sit_on_their_patches(tiny_owlvit_dir: Path) -> None:
    model = OwlViTForObjectDetection.from_pretrained(tiny_owlvit_dir)
    tokens = torch.randn(1, 576, 32)
    boxes = model.box_predictor(tokens, tokens.reshape(1, 24, 24, 32))  # [1, 576, 4] cxcywh
    assert torch.allclose(boxes[0, :, 2:], torch.full((576, 2), 1 / 24), atol=0.01)
    centres = boxes[0, :, :2].reshape(24, 24, 2)
    assert (centres[:, 1:, 0] > centres[:, :-1, 0]).all()  # x grows along a row
    assert (centres[1:, :, 1] > centres[:-1, :, 1]).all()  # y grows down a column


def test_base_config_is_the_real_b32_shape() -> None:
    config = owlvit_config("base", 49408)
    defaults = OwlViTConfig()
    assert config.vision_config.hidden_size == defaults.vision_config.hidden_size == 768
    assert config.text_config.hidden_size == config.projection_dim == 512
    assert config.vision_config.image_size // config.vision_config.patch_size == 24
    assert config.text_config.eos_token_id == 49407


def test_invalid_choices_raise_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        owlvit_config("huge", 514)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vocab"):
        build_owlvit_dir(tmp_path, vocab="words")  # type: ignore[arg-type]


def test_text_width_widens_the_text_side_only(tmp_path: Path) -> None:
    default = owlvit_config("tiny", 514)
    wide = owlvit_config("tiny", 514, text_width=32)
    assert default.text_config.hidden_size == default.projection_dim == 16
    assert wide.text_config.hidden_size == wide.projection_dim == 32
    assert wide.text_config.intermediate_size == 64
    assert wide.vision_config.hidden_size == default.vision_config.hidden_size
    encoder = OwlViTEncoder.from_pretrained(str(build_owlvit_dir(tmp_path, text_width=32, image_size=256)))
    assert encoder.embed_texts(["red circle", "circle"]).embeds.shape == (2, 32)
    image = np.zeros((64, 96, 3), dtype=np.uint8)
    encoding = encoder.encode_images(encoder.preprocess([image]))
    queries = encoder.embed_texts(["red circle"]).embeds[None]  # [1, 1, 32]
    assert encoder.query_logits(encoding, queries).shape == (1, 64, 1)
    for bad in (0, 15, True, 2.0):
        with pytest.raises(ValueError, match="text_width"):
            owlvit_config("tiny", 514, text_width=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text_width"):
        owlvit_config("base", 514, text_width=32)


def test_clip_vocab_tokenizes_like_real_clip(tmp_path: Path) -> None:
    if not _has_open_clip():
        missing("open_clip_torch is not installed (its BPE vocabulary file; `make install` installs it)")
    vocab, merges = clip_vocab()
    assert len(vocab) == 49408 and len(merges) == 48894
    processor = OwlViTProcessor.from_pretrained(build_owlvit_dir(tmp_path, vocab="clip"))
    # Ids of the real CLIP tokenizer for this phrase (CLIP's SimpleTokenizer).
    assert processor.tokenizer("a photo of a cat")["input_ids"] == [
        49406, 320, 1125, 539, 320, 2368, 49407
    ]


def test_clip_vocab_without_open_clip_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(testing.importlib.metadata, "files", missing)
    with pytest.raises(RuntimeError, match="open_clip_torch"):
        clip_vocab()


def test_patch_size_keeps_the_token_grid_at_a_smaller_input(tmp_path: Path) -> None:
    encoder = OwlViTEncoder.from_pretrained(str(build_owlvit_dir(tmp_path, image_size=192, patch_size=16)))
    assert encoder.grid_hw == (12, 12)
    assert encoder.image_size == 192
    pixels = encoder.preprocess([np.zeros((50, 80, 3), np.uint8)])
    assert tuple(pixels.shape) == (1, 3, 192, 192)
    assert encoder.encode_images(pixels).tokens.shape[1] == 144
    for image_size, patch_size in ((200, 16), (8, 16), (192, 0), (192, 16.0)):
        with pytest.raises(ValueError, match="patch_size"):
            owlvit_config("tiny", 514, image_size=image_size, patch_size=patch_size)  # type: ignore[arg-type]
