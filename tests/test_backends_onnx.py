"""The ONNX Runtime backend against PyTorch on the tiny random OWL-ViT and decoder: every forward
within 1e-4, the same interface (NumPy arrays out: the backend runs without PyTorch), the same
tokens as transformers' tokenizer, and the errors of a missing extra or a mismatched directory."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from onnx_exports import fp32_export, onnx_root, tiny_decoder_ckpt  # noqa: F401  (fixtures)
from optional import require
from promptcrop.errors import CheckpointError, ModelUnavailableError

require("onnxruntime")

from promptcrop.backends.onnx import INSTALL_HINT, MANIFEST_NAME, OnnxManifest, load_onnx_backend, read_manifest  # noqa: E402

ATOL = 1e-4


def _scenes(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        img = (rng.random((120 + 20 * i, 180, 3)) * 200).astype(np.uint8)
        img[20:60, 30 + 10 * i : 90 + 10 * i] = (220, 40, 30)
        out.append(img)
    return out


@pytest.fixture(scope="module")
def backends(fp32_export, tiny_owlvit_dir, tiny_decoder_ckpt):  # noqa: F811
    from promptcrop.model.checkpoint import load_decoder
    from promptcrop.model.encoder import OwlViTEncoder

    torch_encoder = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir))
    torch_decoder, _ = load_decoder(tiny_decoder_ckpt, expected_encoder=torch_encoder)
    onnx_encoder, onnx_decoder = load_onnx_backend(
        fp32_export, model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt)
    )
    return torch_encoder, torch_decoder, onnx_encoder, onnx_decoder


def _close(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> None:
    assert isinstance(a, np.ndarray) != isinstance(b, np.ndarray)  # one side is the ONNX backend's
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    assert a.shape == b.shape
    assert a.dtype == b.dtype == torch.float32
    assert float((a - b).abs().max()) <= ATOL


def test_image_side_matches_pytorch(backends):
    torch_encoder, _, onnx_encoder, _ = backends
    images = _scenes(3)
    pixels = torch_encoder.preprocess(images)
    assert torch.equal(pixels, torch.from_numpy(onnx_encoder.preprocess(images)))  # the same pre-processing code
    with torch.inference_mode():
        ref, got = torch_encoder.encode_images(pixels), onnx_encoder.encode_images(pixels)
    assert got.grid_hw == ref.grid_hw == (24, 24)
    for name in ("tokens", "boxes_cxcywh", "class_embeds"):
        _close(getattr(ref, name), getattr(got, name))
    # one image: the batch axis is dynamic
    with torch.inference_mode():
        single = onnx_encoder.encode_images(pixels[1:2])
    _close(single.tokens, ref.tokens[1:2])


def test_text_and_query_logits_match_pytorch(backends):
    torch_encoder, _, onnx_encoder, _ = backends
    phrases = ["a dog", "the red square", "a dog", "a very long phrase that the text model cuts"]
    with torch.inference_mode():
        ref, got = torch_encoder.embed_texts(phrases), onnx_encoder.embed_texts(phrases)
        _close(ref.embeds, got.embeds)
        assert got.truncated == ref.truncated and len(got.truncated) == 1
        single = onnx_encoder.embed_texts(["a cat"]).embeds  # one phrase: dynamic axis
        _close(single, torch_encoder.embed_texts(["a cat"]).embeds)
        pixels = torch_encoder.preprocess(_scenes(2))
        encoding = torch_encoder.encode_images(pixels)
        queries = ref.embeds[None].expand(2, -1, -1)
        mask = torch.tensor([[True, True, False, True], [True, False, True, True]])
        ref_logits = torch_encoder.query_logits(encoding, queries, mask)
        got_logits = onnx_encoder.query_logits(encoding, queries, mask)
    assert got_logits.shape == (2, 576, 4)
    _close(ref_logits, got_logits)


TRICKY_PHRASES = [
    "a dog", "The  Red   Square", "it's the café's sign", "日本の猫", "x" * 40, "!", "", "a, b; c. d",
    "the red rocket standing on the launch pad at night under the stars",
]


def test_the_exported_tokenizer_gives_transformers_tokens(backends):
    """tokenizer.json read by the tokenizers library: the ids, masks and truncation of
    transformers' CLIP tokenizer, padded to the text model's positions."""
    torch_encoder, _, onnx_encoder, _ = backends
    ref_ids, ref_mask, ref_cut = torch_encoder._tokens(TRICKY_PHRASES)
    got_ids, got_mask, got_cut = onnx_encoder._tokens(TRICKY_PHRASES)
    assert got_ids.dtype == got_mask.dtype == np.int64
    assert got_ids.tolist() == ref_ids.tolist() and got_mask.tolist() == ref_mask.tolist()
    assert got_cut == ref_cut and got_cut[TRICKY_PHRASES.index("x" * 40)]


def test_image_queries_match_pytorch(backends):
    torch_encoder, _, onnx_encoder, _ = backends
    pixels = torch_encoder.preprocess(_scenes(2))
    with torch.inference_mode():
        _close(torch_encoder.embed_image_queries(pixels), onnx_encoder.embed_image_queries(pixels))


@pytest.mark.parametrize("width", [0, 1, 3])
def test_decoder_matches_pytorch(backends, width):
    from promptcrop.model.grounding import ground, unconditioned

    torch_encoder, torch_decoder, onnx_encoder, onnx_decoder = backends
    assert onnx_decoder.config == torch_decoder.config
    with torch.inference_mode():
        encoding = torch_encoder.encode_images(torch_encoder.preprocess(_scenes(2)))
        if width == 0:
            grounding = unconditioned(encoding)
        else:
            embeds = torch_encoder.embed_texts(["a", "b", "c"][:width]).embeds[None].expand(2, -1, -1)
            mask = torch.ones(2, width, dtype=torch.bool)
            mask[1, 0] = width == 1  # with several queries, the second image's first is padding
            grounding = ground(encoding, torch_encoder.query_logits(encoding, embeds, mask), mask)
        ref = torch_decoder(encoding.tokens, encoding.grid_hw, grounding.tokens, grounding.mask,
                            grounding.union_cxcywh, all_layers=False)
        got = onnx_decoder.decode(encoding, grounding)
    for name in ("boxes_cxcywh", "scores", "layer_boxes_cxcywh", "layer_scores"):
        _close(getattr(ref, name), getattr(got, name))
    assert not torch.allclose(ref.boxes_cxcywh[0, 0], ref.boxes_cxcywh[0, 1])  # the outputs say something


def test_manifest_records_the_sources(fp32_export, tiny_owlvit_dir, tiny_decoder_ckpt):  # noqa: F811
    data = json.loads((fp32_export / MANIFEST_NAME).read_text())
    assert data["format"] == "promptcrop-onnx" and data["format_version"] == 1
    assert data["model"]["id"] == str(tiny_owlvit_dir)
    assert data["model"]["grid_hw"] == [24, 24] and data["model"]["image_size"] == 768
    assert data["decoder"]["id"] == str(tiny_decoder_ckpt)
    assert data["quantization"] is None and data["opset"] >= 17
    assert set(data["files"]) == {"image", "text", "class_head", "decoder"}
    for graph, outputs in data["fidelity"].items():
        for name, fig in outputs.items():
            assert fig["max_abs"] <= ATOL, (graph, name, fig)
    manifest = read_manifest(fp32_export)
    assert OnnxManifest.from_json(manifest.to_json()) == manifest


def test_a_directory_from_another_model_or_decoder_is_refused(fp32_export, tiny_owlvit_dir, tmp_path):  # noqa: F811
    with pytest.raises(CheckpointError, match="exported from OWL-ViT model .* not 'google/owlvit-base-patch32'"):
        load_onnx_backend(fp32_export, model="google/owlvit-base-patch32")
    with pytest.raises(CheckpointError, match="exported with decoder .* not '/elsewhere/other-decoder'"):
        load_onnx_backend(fp32_export, model=str(tiny_owlvit_dir), decoder="/elsewhere/other-decoder")
    # the same model under a Hub id of the same name is accepted, and no decoder is fine
    encoder, decoder = load_onnx_backend(fp32_export, model=f"someone/{tiny_owlvit_dir.name}")
    assert decoder is None and encoder.model_id == str(tiny_owlvit_dir)
    with pytest.raises(CheckpointError, match="not a directory written by promptcrop export-onnx"):
        load_onnx_backend(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_onnx_backend(tmp_path / "nowhere")


def test_a_broken_or_newer_manifest_is_refused(fp32_export, tmp_path):  # noqa: F811
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(fp32_export, copy)
    data = json.loads((copy / MANIFEST_NAME).read_text())
    (copy / MANIFEST_NAME).write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format_version 99 is not supported"):
        read_manifest(copy)
    (copy / MANIFEST_NAME).write_text(json.dumps(data))
    (copy / data["files"]["text"]).unlink()
    with pytest.raises(CheckpointError, match="text.onnx, which is missing"):
        read_manifest(copy)
    (copy / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_manifest(copy)


def test_without_onnxruntime_the_error_says_how_to_install_it(fp32_export, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ModelUnavailableError) as info:
        load_onnx_backend(fp32_export)
    message = str(info.value)
    assert "\n" not in message and INSTALL_HINT in message


def test_the_onnx_backend_runs_on_the_cpu_in_float32(backends):
    _, _, onnx_encoder, onnx_decoder = backends
    assert onnx_encoder.to(device="cpu", dtype=torch.float32) is onnx_encoder
    with pytest.raises(ValueError, match="runs on the CPU"):
        onnx_encoder.to(device="cuda")
    with pytest.raises(ValueError, match="float32"):
        onnx_decoder.to(dtype=torch.float16)


def test_the_onnx_predictor_loads_no_pytorch_weights(fp32_export, tiny_owlvit_dir, tiny_decoder_ckpt, monkeypatch):  # noqa: F811
    import transformers

    from promptcrop.model import checkpoint, encoder
    from promptcrop.predictor import Predictor

    def refuse(*args, **kwargs):
        raise AssertionError("the ONNX backend loaded PyTorch weights")

    monkeypatch.setattr(encoder.OwlViTEncoder, "from_pretrained", refuse)
    monkeypatch.setattr(transformers.OwlViTForObjectDetection, "from_pretrained", refuse)
    monkeypatch.setattr(checkpoint, "load_decoder", refuse)
    predictor = Predictor(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt), backend="onnx",
                          onnx_dir=str(fp32_export)).load()
    pred = predictor.predict(_scenes(1)[0], query="a red box", k=2, aspect="1:1")
    assert pred.mode == "clipcrop" and pred.crops


def test_exported_vision_attention_is_fused(fp32_export):  # noqa: F811
    import onnx

    manifest = read_manifest(fp32_export)
    image = onnx.load(str(fp32_export / manifest.files["image"]), load_external_data=False)
    text = onnx.load(str(fp32_export / manifest.files["text"]), load_external_data=False)
    fused = [n for n in image.graph.node if n.op_type == "MultiHeadAttention"]
    assert fused and all(n.domain == "com.microsoft" for n in fused)
    assert not any(n.op_type == "Softmax" for n in image.graph.node)  # every vision attention fused
    assert any(n.op_type == "Softmax" for n in text.graph.node)  # masked text attention left as it is
