"""Typed training configuration and named presets (``paper`` first).

:class:`TrainConfig` groups the model (:class:`promptcrop.config.ModelConfig`), the optimiser
(:class:`OptimConfig`), the loss (:class:`LossConfig`) and the augmentation
(:class:`promptcrop.train.augment.AugmentConfig`). Every dataclass is frozen and validated in
``__post_init__`` (invalid values raise ``ValueError``). A run folder keeps the resolved config as
plain JSON (:meth:`TrainConfig.to_dict`);
``--config FILE`` is a JSON object of overrides merged into a preset (:func:`load_train_config`),
nested groups merged key by key, unknown keys rejected.

The ``paper`` preset is Appendix B of the paper (docs/METHOD.md, "Training the decoder"): AdamW,
cosine schedule 1e-4 → 1e-6, batch 32, 180 epochs, OWL-ViT B/32 encoder (frozen), decoder
6 layers / 512 / 8 heads / FFN 2048 / 90 queries, mosaics 1×1 / 2×2 / 3×3 with equal probability
plus colour jitter and horizontal flip, the losses of Jia et al. (L1 5, GIoU 2, Smooth-L1 score;
matching 2·score + 5·L1 + 2·GIoU).
Values the paper does not give are marked **[ours]** in the field docs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcrop import config as model_config
from promptcrop.config import ModelConfig, config_from_dict, config_to_dict
from promptcrop.train.augment import AugmentConfig
from promptcrop.validation import require_bool, require_int, require_number


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with a cosine schedule (Appendix B) and an optional linear warm-up.

    ``lr``: peak learning rate of the decoder (1e-4). ``min_lr``: final learning rate of the cosine
    schedule (1e-6); every parameter group decays by the same factor ``min_lr / lr``.
    ``warmup_steps``: optimiser steps of linear warm-up from 0 before the cosine (0 = none).
    ``weight_decay``: AdamW weight decay **[ours: 1e-4, DETR's]**. ``grad_clip``: max global
    gradient norm, 0 = no clipping **[ours: 0.1, DETR's]**. ``encoder_lr``: learning rate of the
    encoder when it is fine-tuned (``TrainConfig.freeze_encoder = False``) **[ours: 1e-5]**.
    """

    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 0
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    encoder_lr: float = 1e-5

    def __post_init__(self) -> None:
        require_number("optim.lr", self.lr, 0.0, 1.0, low_open=True)
        require_number("optim.min_lr", self.min_lr, 0.0, self.lr)
        require_int("optim.warmup_steps", self.warmup_steps, minimum=0)
        require_number("optim.weight_decay", self.weight_decay, 0.0, 1.0)
        require_number("optim.grad_clip", self.grad_clip, 0.0, 1e6)
        require_number("optim.encoder_lr", self.encoder_lr, 0.0, 1.0, low_open=True)


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and matching costs (Jia et al. CVPR 2022; docs/METHOD.md, "Training the
    decoder").

    ``weight_l1`` / ``weight_giou`` / ``weight_score``: weights of the L1 (cxcywh), 1 − GIoU and
    Smooth-L1 score terms (5 / 2 / 1). ``cost_l1`` / ``cost_giou`` / ``cost_score``: the Hungarian
    matching cost weights (5 / 2 / 2). ``aux_loss``: losses on every decoder layer.
    ``redundancy_iou``: IoU from which an unmatched prediction inherits a crop's score (0.9).
    """

    weight_l1: float = 5.0
    weight_giou: float = 2.0
    weight_score: float = 1.0
    cost_l1: float = 5.0
    cost_giou: float = 2.0
    cost_score: float = 2.0
    aux_loss: bool = True
    redundancy_iou: float = 0.9

    def __post_init__(self) -> None:
        for name in ("weight_l1", "weight_giou", "weight_score", "cost_l1", "cost_giou", "cost_score"):
            require_number(f"loss.{name}", getattr(self, name), 0.0, 1e6)
        require_bool("loss.aux_loss", self.aux_loss)
        require_number("loss.redundancy_iou", self.redundancy_iou, 0.0, 1.0, low_open=True)

    @property
    def weights(self) -> dict[str, float]:
        """The weight dict :class:`~promptcrop.train.criterion.SetCriterion` takes."""
        return {"loss_l1": self.weight_l1, "loss_giou": self.weight_giou, "loss_score": self.weight_score}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data paths and the device.

    ``model``: encoder id, decoder shape and which phrases of a caption are embedded
    (``model.query_parts``, recorded in the decoder checkpoints). ``epochs``: passes over the
    training split. ``batch_size``: images per optimiser step; ``accumulation_steps``:
    micro-batches of ``batch_size / accumulation_steps`` images whose gradients are summed
    before each step (batch 32 on one GPU). ``freeze_encoder``: keep
    OWL-ViT fixed (default **[ours]**); otherwise it trains at ``optim.encoder_lr``.
    ``conditioned``: ground the captions (ClipCrop); False trains ClipCrop-base (no query).
    ``amp``: mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored
    on CPU. ``seed``: seeds parameter init, data order and augmentation. ``num_workers``: data
    loader processes. ``log_every``: optimiser steps between metric lines. ``val_every``:
    epochs between validations. ``checkpoint_every``: epochs between checkpoints (the last epoch
    always writes one). ``augment``: mosaic grids (1×1 / 2×2 / 3×3, equal probability), flip and
    colour jitter **[ours: jitter strengths 0.4]**. ``filter_grounding``: in mosaics, drop grounded
    boxes far from the target or covering less than ``filter_min_cover`` of it (paper §3.3).
    ``cache_encodings``: keep the frozen encoder's output of every training image (and of its
    mirror image) in memory instead of encoding it at every step — only when an image's pixels
    depend on nothing but the flip (frozen encoder, no mosaics, no colour jitter), and only for
    data sets small enough to hold ``2 · N · P · (D + C + 4)`` floats (small CPU runs).
    """

    model: ModelConfig = field(default_factory=lambda: model_config.PAPER)
    epochs: int = 180
    batch_size: int = 32
    accumulation_steps: int = 1
    freeze_encoder: bool = True
    conditioned: bool = True
    amp: bool = True
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    val_every: int = 1
    checkpoint_every: int = 1
    filter_grounding: bool = True
    filter_min_cover: float = 0.5
    cache_encodings: bool = False
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        groups = {"model": ModelConfig, "optim": OptimConfig, "loss": LossConfig, "augment": AugmentConfig}
        for name, cls in groups.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        counts = ("epochs", "batch_size", "accumulation_steps", "log_every", "val_every", "checkpoint_every")
        for name in counts:
            require_int(name, getattr(self, name), minimum=1)
        for name in ("seed", "num_workers"):
            require_int(name, getattr(self, name), minimum=0)
        for name in ("freeze_encoder", "conditioned", "amp", "filter_grounding", "cache_encodings"):
            require_bool(name, getattr(self, name))
        if self.cache_encodings:
            self._check_cacheable()
        require_number("filter_min_cover", self.filter_min_cover, 0.0, 1.0, low_open=True)
        if self.batch_size % self.accumulation_steps:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be divisible by accumulation_steps "
                f"({self.accumulation_steps})"
            )

    def _check_cacheable(self) -> None:
        jitter = (self.augment.brightness, self.augment.contrast, self.augment.saturation)
        problems = [
            text for text, bad in (
                ("the encoder is fine-tuned (freeze_encoder: false)", not self.freeze_encoder),
                ("mosaics are on (augment.grids must be [1])", tuple(self.augment.grids) != (1,)),
                ("colour jitter is on (augment brightness/contrast/saturation must be 0)", any(jitter)),
            ) if bad
        ]
        if problems:
            raise ValueError(
                "cache_encodings needs training images that depend only on the flip, but "
                + "; ".join(problems)
            )

    @property
    def micro_batch_size(self) -> int:
        """Images per forward pass: ``batch_size / accumulation_steps``."""
        return self.batch_size // self.accumulation_steps

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (nested groups as nested dicts)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; missing keys take the defaults, unknown keys raise ``ValueError``."""
        return config_from_dict(cls, data)


PAPER = TrainConfig()
"""Appendix B of the paper; see the module docstring."""

TINY = dataclasses.replace(
    PAPER, model=model_config.TINY, epochs=2, batch_size=4, log_every=1,
    augment=dataclasses.replace(PAPER.augment, max_side=256),
)
"""For tests and smoke runs on CPU with a tiny OWL-ViT (``promptcrop.testing``): the tiny
decoder, 2 epochs of batch 4, mosaics of at most 256 pixels. Set ``model.encoder_id`` to the tiny
directory."""

PRESETS: dict[str, TrainConfig] = {"paper": PAPER, "tiny": TINY}


def get_train_preset(name: str) -> TrainConfig:
    """The named training preset; ``ValueError`` listing the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown training preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: nested dicts merge key by key, other values replace.

    Unknown keys are kept so that :meth:`TrainConfig.from_dict` reports them by name.
    """
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_train_config(
    path: str | Path | None = None,
    *,
    preset: str = "paper",
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """The preset ``preset``, then the JSON object in ``path`` (if any), then ``overrides``.

    The file may hold a full resolved config (as written to a run folder) or only the keys to
    change, e.g. ``{"epochs": 20, "optim": {"lr": 2e-4}}``. Raises ``ValueError`` naming the file
    for unreadable JSON, a non-object, unknown keys or invalid values.
    """
    data = get_train_preset(preset).to_dict()
    layers = ([_read_json_object(Path(path))] if path is not None else []) + ([overrides] if overrides else [])
    try:
        for layer in layers:
            data = merge_overrides(data, _upgrade_keys(layer))
        return TrainConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        where = f"{path}: " if path is not None else ""
        raise ValueError(f"{where}invalid training config: {exc}") from None


def _upgrade_keys(overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    """Overrides with older model keys translated *before* they are merged into a preset, so
    ``{"model": {"use_keywords": false}}`` means ``query_parts: "text"`` rather than contradicting
    the preset's ``query_parts`` (see :func:`promptcrop.config.upgrade_model_keys`)."""
    model = overrides.get("model")
    if not isinstance(model, Mapping):
        return overrides
    return {**overrides, "model": model_config.upgrade_model_keys(model)}


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: training config file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the training config ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a training config must be a JSON object, got {type(data).__name__}")
    return data


def save_train_config(config: TrainConfig, path: str | Path) -> Path:
    """Write the resolved config as indented JSON (what a run folder keeps); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
