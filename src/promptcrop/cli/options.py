"""The model options of every command that builds a Predictor (``crop``, ``batch``, ``serve``),
parsed into the one :class:`~promptcrop.options.PredictorOptions`.

::

    --model ID|DIR  --decoder DIR|ID  --device cpu|cuda[:N]  --backend torch|onnx  --onnx-dir DIR
    --offline  --max-pixels N
"""

from __future__ import annotations

import argparse

from promptcrop.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MODEL_ID
from promptcrop.options import BACKENDS, PredictorOptions


def add_predictor_options(p: argparse.ArgumentParser, *, offline_help: str, count: type = int) -> None:
    """The options of :class:`PredictorOptions` (``count``: argparse type of ``--max-pixels``)."""
    add_model_option(p)
    p.add_argument("--decoder", metavar="DIR|ID", help="trained ClipCrop decoder checkpoint (clipcrop mode)")
    add_device_option(p)
    add_backend_options(p)
    p.add_argument("--offline", action="store_true", help=offline_help)
    p.add_argument("--max-pixels", type=count, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images above N pixels (default {DEFAULT_MAX_PIXELS:,})")


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--onnx-dir`` (also used by ``reframe``)."""
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="run the models in PyTorch (default) or in ONNX Runtime from --onnx-dir")
    p.add_argument("--onnx-dir", metavar="DIR",
                   help="directory written by `promptcrop export-onnx` (with --backend onnx)")


def add_model_option(p: argparse.ArgumentParser) -> None:
    """``--model`` (also used by ``demo``)."""
    p.add_argument("--model", default=DEFAULT_MODEL_ID, metavar="ID|DIR",
                   help=f"OWL-ViT hub id or local directory (default {DEFAULT_MODEL_ID})")


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device`` (also used by ``demo``)."""
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")


def predictor_options(args: argparse.Namespace) -> PredictorOptions:
    """The :class:`PredictorOptions` of parsed options (``RequestError`` for a bad combination,
    e.g. ``--backend onnx`` without ``--onnx-dir``)."""
    return PredictorOptions(
        model=args.model, decoder=args.decoder, offline=bool(args.offline), device=args.device,
        backend=args.backend, onnx_dir=args.onnx_dir, max_pixels=args.max_pixels,
    )
