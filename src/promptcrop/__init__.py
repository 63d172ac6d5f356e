"""promptcrop: conditioned image cropping (ClipCrop, Zhong et al., ICCV 2023)."""

from __future__ import annotations

__version__ = "0.1.0"

from promptcrop.errors import (  # noqa: E402
    CheckpointError,
    DatasetError,
    ImageLoadError,
    ModelUnavailableError,
    PromptcropError,
)

__all__ = [
    "__version__",
    "PromptcropError",
    "ImageLoadError",
    "ModelUnavailableError",
    "CheckpointError",
    "DatasetError",
]
