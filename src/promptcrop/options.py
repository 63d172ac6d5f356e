"""How to build a Predictor: :class:`PredictorOptions`, the one list of the options every front end
shares (the command line, the service's settings, the Ray engine, the evaluation).

Validated once here (:class:`~promptcrop.errors.RequestError`): the backend and its ONNX
directory (:func:`check_backend`, the one onnx_dir rule), the device name, the pixel limit.
:meth:`promptcrop.predictor.Predictor.from_options` builds the Predictor they describe, with the
``offline`` rule (:func:`weight_free`). Importing this module imports no model code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from promptcrop.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MODEL_ID
from promptcrop.errors import RequestError

#: What runs the model forwards: PyTorch (any device) or ONNX Runtime (CPU, from an export).
BACKENDS = ("torch", "onnx")
DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


@dataclass(frozen=True)
class PredictorOptions:
    """The options of one Predictor, as the front ends give them.

    - ``model``: OWL-ViT hub id or local directory (``None``: never load weights, offline only).
    - ``decoder``: a ClipCrop decoder checkpoint (directory or hub id): the ``clipcrop`` mode.
    - ``offline``: never use the network — the weight-free mode when nothing is conditioned (no
      query, no exclude) and there is no decoder; weights from the local cache otherwise.
    - ``device``: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    - ``backend`` / ``onnx_dir``: ``torch``, or ``onnx`` with the directory written by
      ``promptcrop export-onnx`` (kept absolute: Ray actors may run in another folder).
    - ``max_pixels``: images (and output canvases) above this many pixels are refused.
    """

    model: str | None = DEFAULT_MODEL_ID
    decoder: str | None = None
    offline: bool = False
    device: str = "cpu"
    backend: str = "torch"
    onnx_dir: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", check_device_name(self.device))
        _, onnx_dir = check_backend(self.backend, self.onnx_dir, self.device)
        object.__setattr__(self, "onnx_dir", None if onnx_dir is None else os.path.abspath(onnx_dir))
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise RequestError(f"max_pixels must be a positive integer, got {self.max_pixels!r}")

    def predictor_kwargs(self) -> dict[str, Any]:
        """The :class:`~promptcrop.predictor.Predictor` keyword arguments besides the mode rule."""
        return {"device": self.device, "backend": self.backend, "onnx_dir": self.onnx_dir,
                "max_pixels": self.max_pixels}


def weight_free(*, offline: bool, decoder: str | None, conditioned: bool) -> bool:
    """The ``offline`` rule: the weight-free offline mode is what ``offline`` asks for when no
    input is ``conditioned`` (no query, no exclude) and there is no ``decoder``; otherwise
    ``offline`` means weights from the local cache only."""
    return bool(offline) and not conditioned and decoder is None


def check_backend(
    backend: str, onnx_dir: str | os.PathLike[str] | None, device: str, dtype: Any = None
) -> tuple[str, str | None]:
    """``(backend, onnx_dir)`` validated — the one onnx_dir rule: the ONNX backend needs its
    directory and runs on the CPU in float32; the directory means nothing to another backend."""
    if backend not in BACKENDS:
        raise RequestError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "onnx":
        if onnx_dir is not None:
            raise RequestError("an ONNX directory (--onnx-dir) is only used by the onnx backend")
        return backend, None
    if onnx_dir is None:
        raise RequestError("the onnx backend needs the directory written by `promptcrop export-onnx` (--onnx-dir)")
    if device != "cpu" or (dtype is not None and str(dtype) != "torch.float32"):
        raise RequestError(
            "the onnx backend runs on the CPU in float32; use the torch backend for other devices or dtypes"
        )
    return backend, os.fspath(onnx_dir)


def check_device_name(device: str) -> str:
    """A device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``), lower-cased; RequestError otherwise."""
    if not isinstance(device, str) or not DEVICE_PATTERN.match(device.strip().lower()):
        raise RequestError(f"invalid device {device!r}: use cpu, cuda or cuda:N")
    return device.strip().lower()


def check_device(device: str) -> str:
    """:func:`check_device_name`, and CUDA must exist when asked for (imports torch then)."""
    device = check_device_name(device)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RequestError(f"device {device!r} requested but CUDA is not available here; use the CPU")
    return device
