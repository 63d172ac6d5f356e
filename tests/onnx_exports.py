"""Tiny ONNX exports shared by the ONNX backend tests, each built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from optional import require

_BUILT: dict[tuple[str, ...], Path] = {}


def tiny_decoder(root: Path, owlvit_dir: Path) -> Path:
    """A tiny-preset decoder checkpoint for ``owlvit_dir`` whose offsets and scores are not
    trivial (every weight perturbed), so that decoder outputs can be compared meaningfully."""
    key = ("decoder", str(owlvit_dir))
    if key not in _BUILT:
        import torch

        from promptcrop.config import get_preset
        from promptcrop.model.checkpoint import EncoderInfo, save_decoder
        from promptcrop.model.decoder import ClipCropDecoder
        from promptcrop.model.encoder import OwlViTEncoder

        gen = torch.Generator().manual_seed(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            decoder = ClipCropDecoder(get_preset("tiny").decoder)
        with torch.no_grad():
            for param in decoder.parameters():
                param.add_(0.05 * torch.randn(param.shape, generator=gen))
        info = EncoderInfo.from_encoder(OwlViTEncoder.from_pretrained(str(owlvit_dir)))
        _BUILT[key] = save_decoder(decoder, root / "tiny-decoder", encoder_info=info, preset="tiny")
    return _BUILT[key]


def tiny_export(root: Path, owlvit_dir: Path, decoder_dir: Path | None, *, int8: bool) -> Path:
    """``export_onnx`` of the tiny OWL-ViT (and decoder) into ``root``."""
    key = ("export", str(owlvit_dir), str(decoder_dir), str(int8))
    if key not in _BUILT:
        require("onnxruntime")
        from promptcrop.backends.export import ExportConfig, export_onnx

        out = root / f"onnx-{'int8' if int8 else 'fp32'}-{'dec' if decoder_dir else 'nodec'}"
        export_onnx(str(owlvit_dir), out, decoder=None if decoder_dir is None else str(decoder_dir),
                    config=ExportConfig(int8=int8))
        _BUILT[key] = out
    return _BUILT[key]


@pytest.fixture(scope="session")
def onnx_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def tiny_decoder_ckpt(onnx_root: Path, tiny_owlvit_dir: Path) -> Path:
    return tiny_decoder(onnx_root, tiny_owlvit_dir)


@pytest.fixture(scope="session")
def fp32_export(onnx_root: Path, tiny_owlvit_dir: Path, tiny_decoder_ckpt: Path) -> Path:
    """float32 export of the tiny OWL-ViT with the tiny decoder."""
    return tiny_export(onnx_root, tiny_owlvit_dir, tiny_decoder_ckpt, int8=False)
