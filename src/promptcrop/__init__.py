"""promptcrop: conditioned image cropping (ClipCrop, Zhong et al., ICCV 2023).

Public API::

    from promptcrop import Predictor
    crops = Predictor().predict("photo.jpg", query="the woman and three dogs", aspect="4:5", k=3)

The heavy modules (torch, transformers) are imported on first use of these names, so
``import promptcrop`` and ``promptcrop --help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from promptcrop.errors import (  # noqa: E402
    CheckpointError,
    DatasetError,
    ImageLoadError,
    InternalError,
    ModelUnavailableError,
    PromptcropError,
    RequestError,
)

_LAZY = {
    "Predictor": "promptcrop.predictor",
    "CropRequest": "promptcrop.request",
    "AspectRatio": "promptcrop.request",
    "build_record": "promptcrop.results",
    "CropResult": "promptcrop.results",
    "Prediction": "promptcrop.results",
    "GroundedBox": "promptcrop.results",
    "load_image": "promptcrop.images",
    "LoadedImage": "promptcrop.images",
}

__all__ = [
    "__version__",
    *_LAZY,
    "PromptcropError",
    "RequestError",
    "InternalError",
    "ImageLoadError",
    "ModelUnavailableError",
    "CheckpointError",
    "DatasetError",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'promptcrop' has no attribute {name!r}")
