"""Training targets of one image: the annotated crops, their MOS and which of them are "good".

The contract between the data pipeline (which builds :class:`CropTargets` with :func:`make_targets`)
and the matcher / criterion (which read it). All boxes are normalised cxcywh relative to the image
the model sees (after augmentation, possibly a mosaic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from promptcrop import boxes as B
from promptcrop.data.gaic import MOS_RANGE, GaicSample

GOOD_MOS = 4.0
"""Crops with MOS >= this are the "good" crops predictions are matched to (paper §3.3)."""


@dataclass
class CropTargets:
    """Ground truth of one image.

    ``boxes_cxcywh``: ``[N, 4]`` float, every valid annotated crop (GAIC score != -2), normalised
    cxcywh. ``mos``: ``[N]`` float, raw MOS on 1..5. ``good``: ``[N]`` bool, the crops predictions
    are matched to (see :func:`good_crops`). N may be 0.
    """

    boxes_cxcywh: torch.Tensor
    mos: torch.Tensor
    good: torch.Tensor

    def __post_init__(self) -> None:
        if self.boxes_cxcywh.ndim != 2 or self.boxes_cxcywh.shape[1] != 4:
            raise ValueError(f"boxes_cxcywh must be [N, 4], got {tuple(self.boxes_cxcywh.shape)}")
        n = self.boxes_cxcywh.shape[0]
        if tuple(self.mos.shape) != (n,):
            raise ValueError(f"mos must be [{n}] like the boxes, got {tuple(self.mos.shape)}")
        if tuple(self.good.shape) != (n,) or self.good.dtype != torch.bool:
            raise ValueError(
                f"good must be a bool [{n}] tensor, got {self.good.dtype} {tuple(self.good.shape)}"
            )

    def __len__(self) -> int:
        return int(self.boxes_cxcywh.shape[0])

    @property
    def score_targets(self) -> torch.Tensor:
        """``[N]`` MOS mapped linearly to [0, 1] without truncation: (MOS − 1) / 4 **[ours]**."""
        return (self.mos - MOS_RANGE[0]) / (MOS_RANGE[1] - MOS_RANGE[0])

    @property
    def good_index(self) -> torch.Tensor:
        """``[G]`` long, indices of the good crops into the full list (ascending)."""
        return torch.nonzero(self.good, as_tuple=False).reshape(-1)

    def to(self, device: torch.device | str) -> CropTargets:
        """The same targets on ``device`` (a new object; this one is unchanged)."""
        return CropTargets(
            boxes_cxcywh=self.boxes_cxcywh.to(device),
            mos=self.mos.to(device),
            good=self.good.to(device),
        )


def good_crops(mos: torch.Tensor) -> torch.Tensor:
    """``[N]`` MOS → ``[N]`` bool: MOS >= 4, or if no crop reaches 4, the crops tied at the max MOS.

    Empty input gives an empty mask.
    """
    if mos.numel() == 0:
        return torch.zeros(0, dtype=torch.bool, device=mos.device)
    good = mos >= GOOD_MOS
    if bool(good.any()):
        return good
    return mos == mos.max()


def make_targets(
    boxes_cxcywh: torch.Tensor | np.ndarray, mos: torch.Tensor | np.ndarray
) -> CropTargets:
    """Build :class:`CropTargets` from ``[N, 4]`` normalised cxcywh boxes and ``[N]`` raw MOS.

    Values are stored as float32; ``good`` follows :func:`good_crops`. Empty input (N = 0, boxes of
    shape ``[0]`` or ``[0, 4]``) is allowed. Raises ValueError for non-finite values or a MOS
    outside 1..5 (e.g. a GAIC invalid-crop -2 that was not dropped).
    """
    boxes_t = torch.as_tensor(boxes_cxcywh, dtype=torch.float32)
    mos_t = torch.as_tensor(mos, dtype=torch.float32).reshape(-1)
    if boxes_t.numel() == 0:
        boxes_t = boxes_t.reshape(0, 4)
    if not bool(torch.isfinite(boxes_t).all()) or not bool(torch.isfinite(mos_t).all()):
        raise ValueError("crop boxes and MOS must be finite numbers")
    out_of_range = (mos_t < MOS_RANGE[0]) | (mos_t > MOS_RANGE[1])
    if bool(out_of_range.any()):
        raise ValueError(
            f"MOS must lie in {MOS_RANGE[0]:g}..{MOS_RANGE[1]:g} (drop invalid crops first), "
            f"got {mos_t[out_of_range][:3].tolist()}"
        )
    return CropTargets(boxes_cxcywh=boxes_t, mos=mos_t, good=good_crops(mos_t))


def to_targets(
    crops_xyxy_px: np.ndarray, mos: np.ndarray, image_size: tuple[int, int]
) -> CropTargets:
    """``[N, 4]`` xyxy pixel crops + ``[N]`` MOS of an image of ``image_size`` (W, H) → targets in
    normalised cxcywh. Use it after augmentation with the augmented boxes and image size."""
    width, height = image_size
    crops = np.asarray(crops_xyxy_px, dtype=np.float64)
    boxes_cxcywh = B.image_xyxy_px_to_model(crops, width, height)
    return make_targets(torch.as_tensor(boxes_cxcywh.reshape(-1, 4)), torch.as_tensor(mos))


def sample_targets(sample: GaicSample) -> CropTargets:
    """A GAIC sample's crops as training targets relative to the un-augmented image."""
    return to_targets(sample.crops_xyxy_px, sample.mos, sample.image_size)
