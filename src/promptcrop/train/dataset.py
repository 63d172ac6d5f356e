"""Training samples from a GAIC-format data set: augmented image, caption and crop targets.

:class:`CropTrainDataset` wraps a :class:`~promptcrop.data.gaic.GaicDataset` split. With an
:class:`~promptcrop.train.augment.AugmentConfig` every sample goes through the paper's augmentation
(mosaic 1×1 / 2×2 / 3×3 with the caption's image in one tile, horizontal flip, colour jitter);
without one (validation) the image is returned as it is.

Randomness is a pure function of ``(seed, epoch, index)``: item keys are ``(epoch, index)`` pairs
and each item draws from ``numpy.random.default_rng([seed, epoch, index])``, so a sample is the same
whatever the worker, the batch or an interruption — exact resume needs no data-loader state.
:meth:`CropTrainDataset.epoch_order` gives the shuffled keys of an epoch, also seeded by
``(seed, epoch)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from promptcrop.data.gaic import GaicDataset
from promptcrop.train.augment import AugmentConfig, augment
from promptcrop.train.targets import CropTargets, sample_targets, to_targets

SampleKey = tuple[int, int]
"""``(epoch, index)``: which epoch's augmentation of which source sample."""


@dataclass
class TrainSample:
    """One training (or validation) image as the model sees it.

    ``image``: ``uint8 [H, W, 3]`` RGB, after augmentation (possibly a mosaic).
    ``caption``: the text label of the image the crops belong to (None without text labels).
    ``targets``: the crops, normalised cxcywh relative to ``image``, with their MOS.
    ``grid``: mosaic grid size (1 = the image alone, 2 = 2×2, 3 = 3×3).
    ``index``: position of the source sample in the wrapped data set.
    ``flipped``: whether the image was mirrored left-right.
    """

    image: np.ndarray
    caption: str | None
    targets: CropTargets
    grid: int
    index: int
    flipped: bool = False

    @property
    def best_box_cxcywh(self) -> torch.Tensor | None:
        """``[4]`` normalised cxcywh of the highest-MOS crop (first on ties), None without crops."""
        if len(self.targets) == 0:
            return None
        return self.targets.boxes_cxcywh[int(torch.argmax(self.targets.mos))]


class CropTrainDataset(torch.utils.data.Dataset):
    """Augmented training samples of one GAIC-format split.

    Args:
        source: the split (images, crops, MOS and captions).
        augment_config: the augmentation; None returns every image unchanged (validation).
        seed: seeds the augmentation and the epoch order (see the module docstring).

    Indexing takes a key ``(epoch, index)`` or a plain ``index`` (epoch 0) and returns a
    :class:`TrainSample`.
    """

    def __init__(
        self, source: GaicDataset, augment_config: AugmentConfig | None = None, seed: int = 0
    ) -> None:
        if len(source) == 0:
            raise ValueError(f"the {source.split} split in {source.root} holds no samples")
        self.source = source
        self.augment_config = augment_config
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | SampleKey) -> TrainSample:
        epoch, index = (0, key) if isinstance(key, (int, np.integer)) else key
        if not 0 <= index < len(self.source):
            raise IndexError(f"sample index {index} outside 0..{len(self.source) - 1}")
        sample = self.source[index]
        image = self.source.load_image(index)
        if self.augment_config is None:
            return TrainSample(image, sample.caption, sample_targets(sample), grid=1, index=index)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        out = augment(
            image, sample.crops_xyxy_px, lambda k: self._distractors(rng, index, k), rng,
            self.augment_config,
        )
        targets = to_targets(out.boxes_xyxy_px, sample.mos, out.image_size)
        return TrainSample(
            out.image, sample.caption, targets, grid=out.grid, index=index, flipped=out.flipped
        )

    def _distractors(self, rng: np.random.Generator, index: int, count: int) -> list[np.ndarray]:
        """``count`` other images of the split for the mosaic tiles (repeats allowed when the split
        is small; the target image itself only when it is the split's only image)."""
        others = [i for i in range(len(self.source)) if i != index] or [index]
        picks = rng.choice(len(others), size=count, replace=count > len(others))
        return [self.source.load_image(others[int(p)]) for p in picks]

    def epoch_order(self, epoch: int, shuffle: bool = True) -> list[SampleKey]:
        """The keys of one epoch: every index once, shuffled by a generator seeded with
        ``(seed, epoch)`` (or in order with ``shuffle=False``)."""
        if shuffle:
            generator = torch.Generator().manual_seed(_mix_seed(self.seed, epoch))
            order: Sequence[int] = torch.randperm(len(self), generator=generator).tolist()
        else:
            order = range(len(self))
        return [(int(epoch), int(i)) for i in order]


def _mix_seed(seed: int, epoch: int) -> int:
    """One 63-bit torch seed from ``(seed, epoch)`` (numpy's SeedSequence does the mixing)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def collate_samples(samples: Sequence[TrainSample]) -> list[TrainSample]:
    """Data-loader ``collate_fn``: images differ in size, so a batch stays a list of samples."""
    return list(samples)
