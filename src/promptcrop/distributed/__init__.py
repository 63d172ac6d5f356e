"""Scaling out on Ray Data: the same crops, records and error handling as the local batch runner.

- :func:`crop_dataset` — the Python API: a ``ray.data.Dataset`` of images (paths, URIs or encoded
  bytes) in, one row per input out (``input``, ``key``, ``mode``, ``crops``, ``error``, ``record``).
- ``promptcrop batch INPUT -o OUT --engine ray`` — the command line
  (:mod:`promptcrop.distributed.engine`): resumable, writes what the local engine writes plus
  ``records.parquet``.

Ray is an optional extra (``pip install 'promptcrop[ray]'``); importing this package never imports
Ray, only running a job does, and the names below load their modules on first use (the command
line imports :mod:`promptcrop.cli.engine` alone).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Columns": "actor", "CropActor": "actor", "PredictorSpec": "actor", "crop_dataset": "dataset",
    "RAY_INSTALL_HINT": "runtime", "require_ray": "runtime",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
