"""OWL-ViT encoder wrapper (promptcrop.model.encoder) on the tiny random model; never touches the network."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from promptcrop.errors import InternalError, ModelUnavailableError
from promptcrop.model.encoder import ImageEncoding, OwlViTEncoder

D, C, P = 32, 16, 576  # tiny model: token width, embedding width, 24 x 24 tokens


@pytest.fixture(scope="module")
def encoder(tiny_owlvit_dir: Path) -> OwlViTEncoder:
    return OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir), local_files_only=True)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, size=(60, 90, 3), dtype=np.uint8),
        rng.integers(0, 256, size=(120, 40, 3), dtype=np.uint8),
        np.full((33, 33, 3), 200, dtype=np.uint8),
    ]


@pytest.fixture(scope="module")
def pixels(encoder: OwlViTEncoder, images: list[np.ndarray]) -> torch.Tensor:
    return encoder.preprocess(images)


def test_loads_from_a_local_directory_with_the_model_dimensions(
    encoder: OwlViTEncoder, tiny_owlvit_dir: Path
) -> None:
    assert encoder.model_id == str(tiny_owlvit_dir)
    assert (encoder.token_dim, encoder.embed_dim) == (D, C)
    assert encoder.grid_hw == (24, 24)
    assert encoder.max_text_positions == 16


def test_is_frozen_and_stays_in_eval_mode(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.model.training
    encoding = encoder.encode_images(pixels[:1])
    assert not encoding.tokens.requires_grad


def test_frozen_outputs_can_feed_a_trained_layer(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    # Outputs must not be inference-mode tensors, or a decoder could not train on them.
    head = torch.nn.Linear(D, 1)
    head(encoder.encode_images(pixels[:1]).tokens).sum().backward()
    assert head.weight.grad is not None


def test_preprocess_resizes_to_the_square_input(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    assert tuple(pixels.shape) == (3, 3, 768, 768)
    assert pixels.dtype == torch.float32


def test_fast_preprocess_equals_the_transformers_processor(
    encoder: OwlViTEncoder, images: list[np.ndarray], pixels: torch.Tensor
) -> None:
    reference = encoder.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(pixels, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10), np.uint8)],
)
def test_preprocess_rejects_non_rgb_uint8(encoder: OwlViTEncoder, bad: np.ndarray) -> None:
    with pytest.raises(InternalError, match="uint8"):
        encoder.preprocess([bad])


def test_encode_images_shapes(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    encoding = encoder.encode_images(pixels)
    assert tuple(encoding.tokens.shape) == (3, P, D)
    assert encoding.grid_hw == (24, 24)
    assert tuple(encoding.boxes_cxcywh.shape) == (3, P, 4)
    assert tuple(encoding.class_embeds.shape) == (3, P, C)
    assert ((encoding.boxes_cxcywh >= 0) & (encoding.boxes_cxcywh <= 1)).all()


def test_encode_images_rejects_wrong_pixel_shape(encoder: OwlViTEncoder) -> None:
    with pytest.raises(InternalError, match="preprocess"):
        encoder.encode_images(torch.zeros(1, 3, 224, 224))


def test_batched_encoding_equals_one_by_one(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    batched = encoder.encode_images(pixels)
    for i in range(pixels.shape[0]):
        single = encoder.encode_images(pixels[i : i + 1])
        for name in ("tokens", "boxes_cxcywh", "class_embeds"):
            assert torch.allclose(getattr(batched, name)[i], getattr(single, name)[0], atol=1e-5)


def test_matches_the_transformers_detection_forward(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    texts = ["dog", "a boat"]
    inputs = encoder.processor(text=[texts] * 2, return_tensors="pt")
    with torch.no_grad():
        reference = encoder.model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
            pixel_values=pixels[:2],
        )
    encoding = encoder.encode_images(pixels[:2])
    queries = encoder.embed_texts(texts).embeds.expand(2, -1, -1)  # [2, W, C]
    assert torch.allclose(encoding.boxes_cxcywh, reference.pred_boxes, atol=1e-5)
    assert torch.allclose(encoder.query_logits(encoding, queries), reference.logits, atol=1e-4)


def test_text_embeddings_are_normalised(encoder: OwlViTEncoder) -> None:
    text = encoder.embed_texts(["dog", "a boat", "dog"])
    assert tuple(text.embeds.shape) == (3, C)
    assert torch.allclose(text.embeds.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(text.embeds[0], text.embeds[2])
    assert text.truncated == ()


def test_long_phrases_are_truncated_and_reported(encoder: OwlViTEncoder) -> None:
    # Byte vocabulary: one token per character; 16 positions hold BOS + 14 tokens + EOS.
    fits = "abcdefghijklm n"  # 14 tokens
    too_long = fits + " opq"  # 17 tokens: cut to the first 14, which are exactly `fits`
    text = encoder.embed_texts([fits, too_long])
    assert text.truncated == (too_long,)
    assert torch.allclose(text.embeds[0], text.embeds[1], atol=1e-6)


def test_each_distinct_phrase_is_tokenised_and_encoded_once(
    tiny_owlvit_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir), local_files_only=True)
    tokenised: list[str] = []
    real_tokenizer = fresh.processor.tokenizer

    class Counting:
        def __call__(self, texts: list[str], **kwargs: object) -> object:
            tokenised.extend(texts)
            return real_tokenizer(texts, **kwargs)

    monkeypatch.setattr(fresh.processor, "tokenizer", Counting())
    encoded: list[int] = []
    real_features = fresh.model.owlvit.get_text_features

    def counting_features(input_ids: torch.Tensor, **kwargs: object) -> object:
        encoded.append(len(input_ids))
        return real_features(input_ids=input_ids, **kwargs)

    monkeypatch.setattr(fresh.model.owlvit, "get_text_features", counting_features)
    first = fresh.embed_texts(["dog", "a boat", "dog", "dog"])
    again = fresh.embed_texts(["a boat", "dog"])
    assert encoded == [2, 2]  # the distinct phrases only
    assert sorted(tokenised) == ["a boat", "a boat", "dog", "dog"]  # lengths + padded ids, first call only
    assert torch.equal(first.embeds[0], first.embeds[3]) and torch.equal(first.embeds[1], again.embeds[0])
    alone = [fresh.embed_texts([t]).embeds[0] for t in ("dog", "a boat")]
    assert torch.allclose(first.embeds[:2], torch.stack(alone), atol=1e-6)


def test_the_token_cache_keeps_the_most_recent_phrases(
    tiny_owlvit_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promptcrop.backends.frontend.TOKEN_CACHE_SIZE", 2)
    fresh = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir), local_files_only=True)
    fresh.embed_texts(["a", "b"])
    fresh.embed_texts(["a"])  # "a" used last, so "b" goes first
    fresh.embed_texts(["c"])
    assert list(fresh._token_cache) == ["a", "c"]
    many = fresh.embed_texts(["x", "y", "z", "x" * 40])  # more phrases than the cache holds
    assert many.truncated == ("x" * 40,) and tuple(many.embeds.shape) == (4, C)


def test_gradients_of_a_repeated_phrase_add_up(tiny_owlvit_dir: Path) -> None:
    trainable = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir), local_files_only=True)
    trainable.requires_grad_(True)
    weight = trainable.model.owlvit.text_projection.weight
    trainable.embed_texts(["dog", "dog"]).embeds.sum().backward()
    twice = weight.grad.clone()
    weight.grad = None
    trainable.embed_texts(["dog"]).embeds.sum().backward()
    assert torch.allclose(twice, 2 * weight.grad, atol=1e-6)


def test_no_texts_give_an_empty_embedding(encoder: OwlViTEncoder) -> None:
    text = encoder.embed_texts([])
    assert tuple(text.embeds.shape) == (0, C) and text.truncated == ()


def test_image_queries_follow_transformers_image_guided_detection(
    encoder: OwlViTEncoder, pixels: torch.Tensor
) -> None:
    query_embeds = encoder.embed_image_queries(pixels[1:3])  # [Q, C]
    assert tuple(query_embeds.shape) == (2, C)
    assert torch.allclose(query_embeds.norm(dim=-1), torch.ones(2), atol=1e-5)
    with torch.no_grad():
        reference = encoder.model.image_guided_detection(
            pixel_values=pixels[:2], query_pixel_values=pixels[1:3]
        )
    logits = encoder.query_logits(encoder.encode_images(pixels[:2]), query_embeds[:, None, :])
    assert torch.allclose(logits, reference.logits, atol=1e-4)


def test_query_logits_mask_padding_queries(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    encoding = encoder.encode_images(pixels[:2])
    queries = encoder.embed_texts(["dog", "boat"]).embeds.expand(2, -1, -1)
    mask = torch.tensor([[True, False], [True, True]])
    logits = encoder.query_logits(encoding, queries, mask)
    assert tuple(logits.shape) == (2, P, 2)
    assert (logits[0, :, 1] == torch.finfo(logits.dtype).min).all()
    assert torch.allclose(logits[1], encoder.query_logits(encoding, queries)[1])


def test_query_logits_reject_wrong_shapes(encoder: OwlViTEncoder, pixels: torch.Tensor) -> None:
    encoding = encoder.encode_images(pixels[:1])
    with pytest.raises(InternalError, match="query_embeds"):
        encoder.query_logits(encoding, torch.zeros(2, C))
    with pytest.raises(InternalError, match="query_mask"):
        encoder.query_logits(encoding, torch.zeros(1, 2, C), torch.ones(1, 3, dtype=torch.bool))


def test_image_encoding_validates_shapes() -> None:
    with pytest.raises(InternalError, match="tokens"):
        ImageEncoding(torch.zeros(1, 5, D), (2, 2), torch.zeros(1, 5, 4), torch.zeros(1, 5, C))
    with pytest.raises(InternalError, match="boxes_cxcywh"):
        ImageEncoding(torch.zeros(1, 4, D), (2, 2), torch.zeros(1, 4, 5), torch.zeros(1, 4, C))


def _assert_one_line_unavailable(name: str, *, local_files_only: bool = False) -> str:
    with pytest.raises(ModelUnavailableError) as caught:
        OwlViTEncoder.from_pretrained(name, local_files_only=local_files_only)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(name) in message and "promptcrop download" in message and "--model" in message
    return message


def test_nonexistent_directory_is_unavailable(tmp_path: Path, no_network: None) -> None:
    _assert_one_line_unavailable(str(tmp_path / "no-such-model"))


def test_directory_without_weights_is_unavailable(
    tmp_path: Path, tiny_owlvit_dir: Path, no_network: None
) -> None:
    shutil.copy(tiny_owlvit_dir / "config.json", tmp_path)
    assert "directory" in _assert_one_line_unavailable(str(tmp_path))


def test_directory_without_processor_is_unavailable(
    tmp_path: Path, tiny_owlvit_dir: Path, no_network: None
) -> None:
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_owlvit_dir / name, tmp_path)
    _assert_one_line_unavailable(str(tmp_path))


def test_uncached_hub_id_offline_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    import huggingface_hub.constants

    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HOME", str(cache))
    message = _assert_one_line_unavailable("google/owlvit-base-patch32")
    assert "promptcrop download google/owlvit-base-patch32" in message


def test_inputs_are_cast_to_the_encoder_dtype(tiny_owlvit_dir: Path, images: list[np.ndarray]) -> None:
    half = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir)).to(dtype=torch.bfloat16)
    pixels = half.preprocess(images[:1])
    assert pixels.dtype == torch.bfloat16
    encoding = half.encode_images(pixels.float())  # float32 input still works
    assert encoding.tokens.dtype == torch.bfloat16
    logits = half.query_logits(encoding, half.embed_texts(["dog"]).embeds[None].float())
    assert tuple(logits.shape) == (1, P, 1)


def test_attention_implementation_can_be_chosen(small_owlvit_dir: Path, images: list[np.ndarray]) -> None:
    default = OwlViTEncoder.from_pretrained(str(small_owlvit_dir))
    eager = OwlViTEncoder.from_pretrained(str(small_owlvit_dir), attn_implementation="eager")
    assert eager.model.config._attn_implementation == "eager"
    assert default.model.config._attn_implementation != "eager"
    pixels = default.preprocess(images[:1])
    torch.testing.assert_close(eager.encode_images(pixels).tokens, default.encode_images(pixels).tokens,
                               rtol=1e-4, atol=1e-5)
