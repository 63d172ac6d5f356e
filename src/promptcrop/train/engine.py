"""The ClipCrop training engine (paper §3.3, Appendix B).

:class:`Trainer` trains a :class:`~promptcrop.model.decoder.ClipCropDecoder` on top of an
:class:`~promptcrop.model.encoder.OwlViTEncoder`: every step runs the encoder (frozen by default, so under
``no_grad``), grounds each image's caption (full text and/or spaCy keywords; text embeddings are
cached per phrase while the encoder is frozen), drops grounded boxes far from the target in mosaics
(:func:`~promptcrop.model.grounding.filter_for_target`), decodes and applies the Hungarian
:class:`~promptcrop.train.criterion.SetCriterion`. With ``cache_encodings`` (small runs whose
images depend only on the flip) each image's encoding is computed once per flip and kept.

Optimisation: AdamW, linear warm-up then cosine decay from ``lr`` to ``min_lr`` per optimiser step,
gradient clipping, gradient accumulation (``batch_size / accumulation_steps`` images per forward;
each micro-batch's loss is weighted by its share of the step's images, so an accumulated step equals
one big batch), mixed precision on CUDA (bf16, or fp16 with loss scaling).

A run folder holds::

    config.json        the resolved TrainConfig (plain JSON)
    metrics.jsonl      one JSON object per line: {"event": "train" | "val" | "epoch", ...}
    train_state.pt     resume state (weights_only torch file, see below)
    decoder/           the latest decoder checkpoint (promptcrop.model.checkpoint format)
    decoder-best/      the decoder of the best validation Acc1/5
    encoder/           the fine-tuned OWL-ViT (only with freeze_encoder = False)

Exact resume: ``train_state.pt`` holds the decoder (and a fine-tuned encoder), the optimiser, the
schedule, the loss scaler, the torch / CUDA / numpy / Python RNG states and the position (epoch,
micro-batches done in it, optimiser steps). Data order and augmentation are functions of
``(seed, epoch, index)`` (:mod:`promptcrop.train.dataset`), so a run stopped after any optimiser
step (``max_steps``) and resumed continues bit-exactly on CPU. It is written with ``torch.save``
and read with ``torch.load(weights_only=True)``: tensors and plain Python values only, no pickled
objects.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from promptcrop.boxes import cxcywh_to_xyxy
from promptcrop.config import ModelConfig
from promptcrop.errors import CheckpointError, PromptcropError
from promptcrop.metrics import dataset_acc_k_n
from promptcrop.model.checkpoint import EncoderInfo, save_decoder
from promptcrop.model.decoder import ClipCropDecoder, DecoderOutput
from promptcrop.model.encoder import ImageEncoding, OwlViTEncoder
from promptcrop.model.grounding import WHOLE_IMAGE_CXCYWH, Grounding, filter_for_target, ground, unconditioned
from promptcrop.queries import parse_queries, query_phrases
from promptcrop.train.config import TrainConfig, save_train_config
from promptcrop.train.criterion import SetCriterion
from promptcrop.train.dataset import CropTrainDataset, SampleKey, TrainSample, collate_samples
from promptcrop.train.matcher import HungarianMatcher
from promptcrop.train.targets import CropTargets

STATE_FORMAT = "promptcrop-train-state"
STATE_VERSION = 1
RESUME_IGNORED_KEYS = frozenset({"num_workers", "log_every"})
"""Config keys that may differ between a run and its resumption (they do not change the maths)."""


# --------------------------------------------------------------------------- schedule


class CosineSchedule:
    """Learning-rate factor per optimiser step for ``LambdaLR``: linear warm-up, then cosine.

    Steps ``0 .. warmup_steps-1`` rise linearly to 1 (``(s + 1) / warmup_steps``); the remaining
    steps follow ``min_ratio + (1 - min_ratio) · ½(1 + cos(π t))`` with ``t`` going from 0 at the
    first step after the warm-up to 1 at the last step ``total_steps - 1``, so the last step runs at
    ``min_lr``. A plain callable object, so ``LambdaLR.state_dict`` stores its numbers.
    """

    def __init__(self, total_steps: int, warmup_steps: int, min_ratio: float) -> None:
        if total_steps < 1 or warmup_steps < 0 or not 0.0 <= min_ratio <= 1.0:
            raise ValueError(
                f"need total_steps >= 1, warmup_steps >= 0 and min_ratio in [0, 1], got "
                f"{total_steps}, {warmup_steps}, {min_ratio}"
            )
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps - 1, 1)
        t = min(max(step - self.warmup_steps, 0) / span, 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def steps_per_epoch(n_samples: int, config: TrainConfig) -> int:
    """Optimiser steps in one epoch: micro-batches ``ceil(n / micro)`` grouped by accumulation
    (the last group of an epoch may be shorter)."""
    micro_batches = math.ceil(n_samples / config.micro_batch_size)
    return math.ceil(micro_batches / config.accumulation_steps)


def build_optimizer(
    decoder: torch.nn.Module, encoder: torch.nn.Module | None, config: TrainConfig
) -> torch.optim.AdamW:
    """AdamW over the decoder at ``optim.lr`` and, when the encoder is fine-tuned, the encoder's
    trainable parameters at ``optim.encoder_lr`` (a second parameter group)."""
    optim = config.optim
    groups: list[dict[str, Any]] = [{"params": list(decoder.parameters()), "lr": optim.lr}]
    if encoder is not None and not config.freeze_encoder:
        params = [p for p in encoder.parameters() if p.requires_grad]
        groups.append({"params": params, "lr": optim.encoder_lr})
    return adamw(groups, lr=optim.lr, weight_decay=optim.weight_decay)


_FUSED_DEVICES = frozenset({"cpu", "cuda"})
_FUSED_DTYPES = frozenset({torch.float32, torch.float16, torch.bfloat16})


def adamw(params: Iterable[Any], *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """``torch.optim.AdamW``, fused (one kernel per step instead of about ten per parameter)
    when every parameter is a float tensor on the CPU or a CUDA device. Same update rule; on
    small models the per-parameter kernels of the default implementation cost more than the
    model (a third of a tiny OWL-ViT's fine-tuning step on the CPU). ``params``: tensors or
    parameter-group dicts, as ``torch.optim.AdamW`` takes them."""
    params = list(params)
    tensors = [t for item in params for t in (item["params"] if isinstance(item, dict) else [item])]
    fused = bool(tensors) and all(
        t.device.type in _FUSED_DEVICES and t.dtype in _FUSED_DTYPES for t in tensors
    )
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


# --------------------------------------------------------------------------- queries


def pad_queries(embeds: torch.Tensor, counts: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``embeds [sum(counts), C]`` (the queries of B images, one after the other) into
    ``(padded [B, W, C], mask [B, W] bool)`` with ``W = max(counts)``; padding rows are zero."""
    width = max(counts, default=0)
    padded = embeds.new_zeros(len(counts), width, embeds.shape[-1])
    mask = torch.zeros(len(counts), width, dtype=torch.bool, device=embeds.device)
    start = 0
    for b, count in enumerate(counts):
        padded[b, :count] = embeds[start : start + count]
        mask[b, :count] = True
        start += count
    return padded, mask


class CaptionQueries:
    """Caption → padded query embeddings, with the spaCy parse cached per caption and, while the
    encoder is frozen, the text embedding cached per phrase.

    Call with B captions → ``(embeds [B, W, C], mask [B, W] bool)``, W = most phrases of a caption.
    """

    def __init__(self, encoder: OwlViTEncoder, model: ModelConfig) -> None:
        self.encoder = encoder
        self.model = model
        self._phrases: dict[str, tuple[str, ...]] = {}
        self._embeds: dict[str, torch.Tensor] = {}

    def prepare(self, captions: Sequence[str], embed_batch: int = 256) -> None:
        """Parse captions in one spaCy batch and, while the encoder is frozen, embed all their new
        phrases in sorted order, ``embed_batch`` at a time.

        Embedding everything up front in a fixed order makes each phrase's embedding independent
        of which batch first needed it (CPU kernels may round differently for other batch
        shapes), which exact resume relies on.
        """
        todo = list(dict.fromkeys(c for c in captions if c not in self._phrases))
        for caption, parsed in zip(todo, parse_queries(todo)):
            self._phrases[caption] = query_phrases(parsed, self.model.query_parts)
        if self.encoder.frozen:
            phrases = sorted({p for c in captions for p in self._phrases[c]} - set(self._embeds))
            for chunk in _chunks(phrases, embed_batch):
                self._cache(chunk)

    def phrases(self, caption: str) -> tuple[str, ...]:
        """The phrases of one caption (:func:`promptcrop.queries.query_phrases` with the model's
        ``query_parts``)."""
        if caption not in self._phrases:
            self.prepare([caption])
        return self._phrases[caption]

    def __call__(self, captions: Sequence[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        if any(c is None for c in captions):
            raise PromptcropError(
                "a conditioned run needs a caption for every image; pass --text-labels or train "
                "ClipCrop-base with conditioned = false"
            )
        per_image = [self.phrases(c) for c in captions]  # type: ignore[arg-type]
        embeds = self._embed([p for phrases in per_image for p in phrases])  # [sum W_b, C]
        return pad_queries(embeds, [len(p) for p in per_image])

    def _embed(self, phrases: list[str]) -> torch.Tensor:
        if not self.encoder.frozen:
            return self.encoder.embed_texts(phrases).embeds
        missing = [p for p in dict.fromkeys(phrases) if p not in self._embeds]
        if missing:
            self._cache(missing)
        return torch.stack([self._embeds[p] for p in phrases])

    def _cache(self, phrases: list[str]) -> None:
        with torch.no_grad():
            for phrase, row in zip(phrases, self.encoder.embed_texts(phrases).embeds):
                self._embeds[phrase] = row


# --------------------------------------------------------------------------- run folder


@dataclass(frozen=True)
class RunPaths:
    """The files of a run folder (see the module docstring)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def state(self) -> Path:
        return self.root / "train_state.pt"

    @property
    def decoder(self) -> Path:
        return self.root / "decoder"

    @property
    def best_decoder(self) -> Path:
        return self.root / "decoder-best"

    @property
    def encoder(self) -> Path:
        return self.root / "encoder"


class MetricsLog:
    """Appends one JSON object per line to ``path`` (the run's ``metrics.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, event: str, **values: Any) -> None:
        record = {"event": event, **values}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


@dataclass
class Position:
    """Where a run stands: ``epoch`` being trained (0-based; = epochs when done),
    ``batch_in_epoch`` micro-batches of it already done, ``step`` optimiser steps done."""

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` did.

    ``run_dir``: the run folder. ``decoder_dir``: the latest decoder checkpoint (None if none was
    written yet). ``position``: where training stopped. ``finished``: all epochs done (False after
    ``max_steps``). ``train``: mean loss terms of the last epoch or partial epoch. ``val``: the last
    validation (``loss``, ``acc1_5``, ``acc1_10``, ``mapping_iou``), None if none ran.
    """

    run_dir: Path
    decoder_dir: Path | None
    position: Position
    finished: bool
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None


class RunningMean:
    """Running means of named numbers, each addition weighted by a count (e.g. images)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0.0

    def add(self, values: Mapping[str, float], count: float) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value) * count
        self.count += count

    def means(self) -> dict[str, float]:
        return {name: total / max(self.count, 1e-12) for name, total in self.sums.items()}


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# --------------------------------------------------------------------------- the trainer


class Trainer:
    """Trains the ClipCrop decoder (and optionally fine-tunes the encoder).

    Args:
        config: the resolved training config; ``config.model.decoder.token_dim`` must equal the
            encoder's token width.
        encoder: the OWL-ViT encoder (moved to ``device``; un-frozen when
            ``config.freeze_encoder`` is False).
        train_data: augmented training samples (their ``seed`` should be ``config.seed``).
        run_dir: the run folder (created).
        val_data: validation samples (no augmentation) or None.
        device: ``"cpu"``, ``"cuda"``, ... decided here once.
        progress: show a progress bar.
        preset: preset name recorded in the decoder checkpoints.

    Seeds the global torch RNG with ``config.seed`` before building the decoder (the run owns the
    process's RNG; dropout draws from it).
    """

    def __init__(
        self,
        config: TrainConfig,
        encoder: OwlViTEncoder,
        train_data: CropTrainDataset,
        run_dir: str | Path,
        *,
        val_data: CropTrainDataset | None = None,
        device: str | torch.device = "cpu",
        progress: bool = True,
        preset: str | None = None,
    ) -> None:
        if encoder.token_dim != config.model.decoder.token_dim:
            raise ValueError(
                f"the encoder {encoder.model_id!r} has {encoder.token_dim}-wide image tokens but "
                f"model.decoder.token_dim is {config.model.decoder.token_dim}; set it to "
                f"{encoder.token_dim} in the training config"
            )
        self.config = config
        self.device = torch.device(device)
        self.paths = RunPaths(Path(run_dir))
        self.train_data, self.val_data = train_data, val_data
        self.progress, self.preset = progress, preset
        torch.manual_seed(config.seed)
        self.encoder = encoder.to(self.device)
        self.encoder.requires_grad_(not config.freeze_encoder)
        self.decoder = ClipCropDecoder(config.model.decoder).to(self.device)
        self.queries = CaptionQueries(self.encoder, config.model)
        loss = config.loss
        matcher = HungarianMatcher(loss.cost_l1, loss.cost_giou, loss.cost_score)
        self.criterion = SetCriterion(matcher, loss.weights, loss.redundancy_iou, loss.aux_loss)
        self.steps_per_epoch = steps_per_epoch(len(train_data), config)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.optimizer = build_optimizer(self.decoder, self.encoder, config)
        min_ratio = config.optim.min_lr / config.optim.lr
        schedule = CosineSchedule(self.total_steps, config.optim.warmup_steps, min_ratio)
        self.scheduler = LambdaLR(self.optimizer, schedule)
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.position = Position()
        self.best_acc = -1.0
        self._encodings: dict[tuple[int, bool], ImageEncoding] = {}
        self.log = MetricsLog(self.paths.metrics)

    def _amp_dtype(self) -> torch.dtype | None:
        if not self.config.amp or self.device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ forward

    def forward(self, samples: Sequence[TrainSample], *, training: bool) -> DecoderOutput:
        """Encode, ground (filtered in mosaics when ``training``) and decode a list of samples."""
        with self._autocast():
            if training and self.config.cache_encodings:
                encoding = self._cached_encoding(samples)
            else:
                encoding = self.encode([s.image for s in samples])
            grounding = self.ground(encoding, samples, filter_mosaics=training)
            return self.decoder(
                encoding.tokens, encoding.grid_hw, grounding.tokens, grounding.mask,
                grounding.union_cxcywh,
            )

    def encode(self, images: Sequence[np.ndarray]) -> ImageEncoding:
        """The encoder's output for ``uint8 [H, W, 3]`` images (a batch of ``len(images)``)."""
        return self.encoder.encode_images(self.encoder.preprocess(images).to(self.device))

    def _cached_encoding(self, samples: Sequence[TrainSample]) -> ImageEncoding:
        """The encodings of training samples from the cache (``config.cache_encodings``), each
        computed once per (image, flip) as a batch of one so that it never depends on the batch
        it first came in (exact resume)."""
        for s in samples:
            key = (s.index, s.flipped)
            if key not in self._encodings:
                self._encodings[key] = self.encode([s.image])
        parts = [self._encodings[(s.index, s.flipped)] for s in samples]
        return ImageEncoding(
            tokens=torch.cat([p.tokens for p in parts]),
            grid_hw=parts[0].grid_hw,
            boxes_cxcywh=torch.cat([p.boxes_cxcywh for p in parts]),
            class_embeds=torch.cat([p.class_embeds for p in parts]),
        )

    def ground(
        self, encoding: ImageEncoding, samples: Sequence[TrainSample], *, filter_mosaics: bool
    ) -> Grounding:
        """Ground every sample's caption (or nothing for an unconditioned run)."""
        if not self.config.conditioned:
            return unconditioned(encoding)
        embeds, mask = self.queries([s.caption for s in samples])
        grounding = ground(encoding, self.encoder.query_logits(encoding, embeds, mask), mask)
        if not (filter_mosaics and self.config.filter_grounding):
            return grounding
        best = [s.best_box_cxcywh for s in samples]
        target_mask = torch.tensor(
            [s.grid > 1 and b is not None for s, b in zip(samples, best)], device=self.device
        )
        whole = torch.tensor(WHOLE_IMAGE_CXCYWH)
        targets = torch.stack([whole if b is None else b for b in best]).to(self.device)
        return filter_for_target(
            grounding, targets, target_mask=target_mask, min_cover=self.config.filter_min_cover
        )

    def losses(self, output: DecoderOutput, samples: Sequence[TrainSample]) -> dict[str, torch.Tensor]:
        """The criterion's named terms plus ``loss`` (their weighted sum), in fp32."""
        targets: list[CropTargets] = [s.targets.to(self.device) for s in samples]
        terms = self.criterion(output, targets)
        return {"loss": self.criterion.weighted_total(terms), **terms}

    # ------------------------------------------------------------------ data

    def _loader(self, batches: list[list[SampleKey]], data: CropTrainDataset) -> Iterator[list[TrainSample]]:
        """Batches of samples; the loader gets its own generator so it never draws from the
        global RNG (exact resume)."""
        loader = torch.utils.data.DataLoader(
            data, batch_sampler=batches, collate_fn=collate_samples,
            num_workers=self.config.num_workers, generator=torch.Generator().manual_seed(0),
        )
        return iter(loader)

    # ------------------------------------------------------------------ training

    def fit(self, *, resume: bool = False, max_steps: int | None = None) -> TrainResult:
        """Train until ``config.epochs`` are done, or until ``max_steps`` optimiser steps in total
        (then the resume state is saved at that point and ``finished`` is False).

        With ``resume`` the run continues from ``train_state.pt``; without it the run folder must
        not hold a run yet (:class:`CheckpointError` otherwise).
        """
        self.paths.root.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_state()
        elif self.paths.state.exists():
            raise CheckpointError(
                f"{self.paths.root} already holds a training run; resume it with --resume or "
                "choose another --out folder"
            )
        save_train_config(self.config, self.paths.config)
        if self.config.conditioned:
            self.queries.prepare(self._captions())
        train_means: dict[str, float] = {}
        val: dict[str, float] | None = None
        while self.position.epoch < self.config.epochs:
            epoch = self.position.epoch
            done, train_means = self._train_epoch(epoch, max_steps)
            if not done:
                self.save_state()
                return self._result(finished=False, train=train_means, val=val)
            self.position = Position(epoch=epoch + 1, step=self.position.step)
            val = self._end_of_epoch(epoch, train_means) or val
            if max_steps is not None and self.position.step >= max_steps:
                self.save_state()
                break
        return self._result(finished=self.position.epoch >= self.config.epochs, train=train_means, val=val)

    def _captions(self) -> list[str]:
        sets = [d for d in (self.train_data, self.val_data) if d is not None]
        return [s.caption for d in sets for s in d.source if s.caption is not None]

    def _train_epoch(self, epoch: int, max_steps: int | None) -> tuple[bool, dict[str, float]]:
        """Train the rest of ``epoch``; returns (epoch completed, mean loss terms over it)."""
        micro = _chunks(self.train_data.epoch_order(epoch), self.config.micro_batch_size)
        skip = self.position.batch_in_epoch
        groups = _chunks(micro[skip:], self.config.accumulation_steps)
        batches = self._loader(micro[skip:], self.train_data)
        self.decoder.train()
        self.encoder.train()
        epoch_mean, window, window_start = RunningMean(), RunningMean(), time.perf_counter()
        bar = tqdm(
            total=len(micro), initial=skip, desc=f"epoch {epoch + 1}/{self.config.epochs}",
            disable=not self.progress, leave=False, unit="batch",
        )
        with bar:
            for group in groups:
                if max_steps is not None and self.position.step >= max_steps:
                    return False, epoch_mean.means()
                values = self._train_step([next(batches) for _ in group])
                n_images = sum(len(g) for g in group)
                epoch_mean.add(values, n_images)
                window.add(values, n_images)
                self.position.batch_in_epoch += len(group)
                bar.update(len(group))
                bar.set_postfix(loss=f"{values['loss']:.4f}")
                if self.position.step % self.config.log_every == 0:
                    self._log_train(epoch, window, time.perf_counter() - window_start)
                    window, window_start = RunningMean(), time.perf_counter()
        return True, epoch_mean.means()

    def _train_step(self, micro_batches: list[list[TrainSample]]) -> dict[str, float]:
        """One optimiser step over accumulated micro-batches; returns the step's mean terms."""
        n_images = sum(len(b) for b in micro_batches)
        self.optimizer.zero_grad(set_to_none=True)
        step_mean = RunningMean()
        for samples in micro_batches:
            losses = self.losses(self.forward(samples, training=True), samples)
            if not torch.isfinite(losses["loss"]):
                raise PromptcropError(
                    f"training diverged at step {self.position.step + 1}: the loss is "
                    f"{float(losses['loss'])}; lower optim.lr or raise optim.warmup_steps"
                )
            self.scaler.scale(losses["loss"] * (len(samples) / n_images)).backward()
            step_mean.add({k: float(v.detach()) for k, v in losses.items()}, len(samples))
        self.scaler.unscale_(self.optimizer)
        if self.config.optim.grad_clip > 0:
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.position.step += 1
        return step_mean.means()

    def _log_train(self, epoch: int, window: RunningMean, seconds: float) -> None:
        self.log.write(
            "train", epoch=epoch, step=self.position.step, lr=self.optimizer.param_groups[0]["lr"],
            images_per_s=window.count / max(seconds, 1e-9), **window.means(),
        )

    def _end_of_epoch(self, epoch: int, train_means: dict[str, float]) -> dict[str, float] | None:
        """Log the epoch, validate and checkpoint when due; returns the validation or None."""
        number = epoch + 1
        last = number == self.config.epochs
        self.log.write("epoch", epoch=epoch, step=self.position.step, **train_means)
        val = None
        if self.val_data is not None and (number % self.config.val_every == 0 or last):
            val = self.validate()
            self.log.write("val", epoch=epoch, step=self.position.step, **val)
        if number % self.config.checkpoint_every == 0 or last:
            self.save_checkpoint(val)
        return val

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self, data: CropTrainDataset | None = None) -> dict[str, float]:
        """Loss (dropout off, no filtering) and GAIC Acc1/5, Acc1/10 on ``data`` (default: the
        validation set). Each image's predicted boxes, ranked by score, are mapped to its annotated
        crops (docs/METRICS.md, "Free boxes"); ``mapping_iou`` is the mean IoU of the top-1 box
        with its crop."""
        data = data if data is not None else self.val_data
        if data is None:
            raise ValueError("no validation data")
        was_training = self.decoder.training
        self.decoder.eval()
        self.encoder.eval()
        mean = RunningMean()
        ranked, candidates, mos = [], [], []
        batches = _chunks(data.epoch_order(0, shuffle=False), self.config.micro_batch_size)
        for samples in self._loader(batches, data):
            output = self.forward(samples, training=False)
            mean.add({k: float(v) for k, v in self.losses(output, samples).items()}, len(samples))
            order = output.scores.float().argsort(dim=1, descending=True)  # [B, M]
            boxes = torch.gather(output.boxes_cxcywh.float(), 1, order[..., None].expand(-1, -1, 4))
            for s, b in zip(samples, boxes):
                ranked.append(cxcywh_to_xyxy(b).cpu().numpy())
                candidates.append(cxcywh_to_xyxy(s.targets.boxes_cxcywh).numpy())
                mos.append(s.targets.mos.numpy())
        self.decoder.train(was_training)
        self.encoder.train(was_training)
        acc5 = dataset_acc_k_n(ranked, candidates, mos, k=1, n=5)
        acc10 = dataset_acc_k_n(ranked, candidates, mos, k=1, n=10)
        return {
            "loss": mean.means()["loss"], "acc1_5": acc5.acc, "acc1_10": acc10.acc,
            "mapping_iou": acc5.mapping_iou,
        }

    # ------------------------------------------------------------------ saving and resuming

    def encoder_info(self) -> EncoderInfo:
        """What the decoder checkpoints record about the encoder (the run's ``encoder/`` folder
        when the encoder is fine-tuned)."""
        info = EncoderInfo.from_encoder(self.encoder)
        if self.config.freeze_encoder:
            return info
        return EncoderInfo(str(self.paths.encoder), info.token_dim, info.embed_dim, info.grid_hw)

    def save_checkpoint(self, val: Mapping[str, float] | None = None) -> Path:
        """Write the resume state and the decoder checkpoint (and ``decoder-best`` when ``val``
        improves Acc1/5; a fine-tuned encoder to ``encoder/``). Returns the decoder folder."""
        self.save_state()
        if not self.config.freeze_encoder:
            self.encoder.model.save_pretrained(self.paths.encoder)
            self.encoder.processor.save_pretrained(self.paths.encoder)
        info = self.encoder_info()
        recorded = dict(encoder_info=info, preset=self.preset, query_parts=self.config.model.query_parts)
        save_decoder(self.decoder, self.paths.decoder, **recorded, overwrite=True)
        if val is not None and val["acc1_5"] > self.best_acc:
            self.best_acc = float(val["acc1_5"])
            save_decoder(self.decoder, self.paths.best_decoder, **recorded, overwrite=True)
            self.save_state()  # keep best_acc in the resume state
        return self.paths.decoder

    def state_dict(self) -> dict[str, Any]:
        """Everything exact resume needs, as tensors and plain Python values."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
            "position": vars(self.position).copy(),
            "best_acc": self.best_acc,
            "decoder": self.decoder.state_dict(),
            "encoder": None if self.config.freeze_encoder else self.encoder.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
        }

    def save_state(self) -> Path:
        """Write ``train_state.pt`` atomically (temporary file, then rename)."""
        tmp = self.paths.state.with_name(self.paths.state.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, self.paths.state)
        return self.paths.state

    def load_state(self) -> None:
        """Restore the run from ``train_state.pt`` (:class:`CheckpointError` if it is missing,
        unreadable or was made with another config)."""
        path = self.paths.state
        if not path.is_file():
            raise CheckpointError(f"{path}: no training state to resume from (start without --resume)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{path}: unreadable training state ({exc})") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"{path}: not a promptcrop training state")
        if state.get("version") != STATE_VERSION:
            raise CheckpointError(
                f"{path}: training state version {state.get('version')!r} is not {STATE_VERSION}"
            )
        current = json.loads(json.dumps(self.config.to_dict()))  # tuples as JSON lists
        _check_same_config(json.loads(state["config"]), current, path)
        self.decoder.load_state_dict(state["decoder"])
        if state["encoder"] is not None:
            self.encoder.model.load_state_dict(state["encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self.position = Position(**state["position"])
        self.best_acc = float(state["best_acc"])

    def _result(
        self, *, finished: bool, train: dict[str, float], val: dict[str, float] | None
    ) -> TrainResult:
        decoder_dir = self.paths.decoder if self.paths.decoder.is_dir() else None
        return TrainResult(self.paths.root, decoder_dir, self.position, finished, train, val)


# --------------------------------------------------------------------------- helpers


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_same_config(saved: Mapping[str, Any], current: Mapping[str, Any], path: Path) -> None:
    old, new = _flatten(saved), _flatten(current)
    differ = sorted(
        k for k in set(old) | set(new)
        if k not in RESUME_IGNORED_KEYS and old.get(k) != new.get(k)
    )
    if differ:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differ[:5])
        raise CheckpointError(
            f"{path}: the run was started with another config ({details}); resume with the run's "
            "own config.json"
        )
