"""Scaling out on Ray Data: the same crops, records and error handling as the local batch runner.

- :func:`crop_dataset` — the Python API: a ``ray.data.Dataset`` of images (paths, URIs or encoded
  bytes) in, one row per input out (``input``, ``key``, ``mode``, ``crops``, ``error``, ``record``).
- ``promptcrop batch INPUT -o OUT --engine ray`` — the command line
  (:mod:`promptcrop.distributed.engine`): resumable, writes what the local engine writes plus
  ``records.parquet``.

Ray is an optional extra (``pip install 'promptcrop[ray]'``); importing this package never imports
Ray, only running a job does.
"""

from promptcrop.distributed.actor import Columns, CropActor, PredictorSpec
from promptcrop.distributed.dataset import crop_dataset
from promptcrop.distributed.runtime import RAY_INSTALL_HINT, require_ray

__all__ = ["RAY_INSTALL_HINT", "Columns", "CropActor", "PredictorSpec", "crop_dataset", "require_ray"]
