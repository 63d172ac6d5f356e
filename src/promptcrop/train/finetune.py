"""Grounding fine-tuning of OWL-ViT (``promptcrop finetune-encoder``): adapt the grounding to a domain.

A standard OWL-ViT detection fine-tune on a phrase-box set (``objects/<split>.json``, see
:mod:`promptcrop.data.datasets`): every image comes with its objects, each a phrase and a pixel
box. Per image the text queries are built from those phrases (:func:`build_queries`):

- each distinct phrase, in a random determiner template (``"{}"``, ``"a {}"``, ``"the {}"``);
- each keyword spaCy extracts from the phrases (:func:`promptcrop.queries.parse_queries`, e.g.
  ``"circle"`` from ``"red circle"``) — the keyword queries ClipCrop grounds at inference —
  naming every object whose phrase has that keyword;
- ``pair_queries`` conjunctions ``"<a> and <b>"`` of two phrases, naming both objects (captions
  often name two things).

Loss (DETR / OWL-ViT style): each object gets its positive image tokens — by default one token,
from a Hungarian assignment on ``cost_class · (−p) + cost_l1 · L1 + cost_giou · (−GIoU)`` with
``p`` the token's probability for the object's own phrase
(:func:`promptcrop.train.matcher.match_cost` gives the box terms,
:func:`~promptcrop.train.matcher.solve_assignment` solves it); or, with ``assignment="centre"``,
every token whose patch centre lies inside the object (FCOS-style; grounding then only has to
find the object, not one particular token of it). An object's positive tokens are the positives
of every query that names it, all other tokens are that query's negatives. The classification loss
is, by default, a softmax cross-entropy over the image tokens per query (``-log Σ_pos softmax``,
averaged over the queries) — it trains exactly what grounding uses, the argmax over tokens — or
a sigmoid focal loss over the ``[P, Q]`` logits (normalised by the number of objects), as in
OWL-ViT's detection training. Box losses: L1 (cxcywh) and ``1 − GIoU`` on the positive tokens.
The whole OWL-ViT (both towers and heads) is trained with AdamW (fused where it can be:
:func:`promptcrop.train.engine.adamw`) and the engine's cosine schedule.
The result is saved with ``save_pretrained`` (model and processor), so
``OwlViTEncoder.from_pretrained(dir)`` and ``Predictor(model=dir)`` load it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from promptcrop.batch.prefetch import prefetch
from promptcrop.boxes import box_iou, contains, cxcywh_to_xyxy, elementwise_generalized_box_iou, image_xyxy_px_to_model
from promptcrop.config import config_from_dict, config_to_dict
from promptcrop.data.datasets import PhraseBoxes
from promptcrop.images import load_image
from promptcrop.model.encoder import ImageEncoding, OwlViTEncoder
from promptcrop.queries import parse_queries
from promptcrop.train.augment import color_jitter, hflip
from promptcrop.train.engine import CosineSchedule, MetricsLog, RunningMean, adamw, pad_queries
from promptcrop.train.matcher import match_cost, solve_assignment
from promptcrop.validation import (
    require_bool,
    require_choice,
    require_int,
    require_non_negative,
    require_number,
    require_positive,
    require_probability,
)

CLASS_LOSSES = ("softmax", "focal")
ASSIGNMENTS = ("hungarian", "centre")

DETERMINER_TEMPLATES = ("{}", "a {}", "the {}")
"""Templates a phrase query is drawn from: captions say "the red circle" as often as "red circle"."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Grounding fine-tuning settings.

    ``epochs`` / ``batch_size``: passes over the phrase-box set, images per step. ``lr`` /
    ``min_lr``: cosine schedule per step (after ``warmup_steps`` of linear warm-up).
    ``weight_decay``, ``grad_clip`` (0 = off): AdamW and clipping. ``cost_*``: matching cost
    weights; ``weight_*``: loss weights. ``class_loss``: ``"softmax"`` (over tokens, per query) or
    ``"focal"``; ``focal_alpha`` / ``focal_gamma``: the focal loss (RetinaNet's 0.25 / 2).
    ``assignment``: an object's positive tokens — ``"hungarian"`` (one matched token, as DETR /
    OWL-ViT) or ``"centre"`` (every token whose patch centre lies inside the object, as FCOS).
    ``templates``: phrase-query templates (each holds one ``{}``). ``keyword_queries``: also
    query the phrases' spaCy keywords. ``pair_queries``: conjunction queries per image.
    ``hflip_prob`` / ``jitter``: horizontal flip probability and colour-jitter strength.
    ``seed``: query sampling, augmentation, data order. ``log_every``: steps between ``train``
    lines of ``metrics.jsonl``.
    """

    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 0
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    cost_class: float = 2.0
    cost_l1: float = 5.0
    cost_giou: float = 2.0
    weight_class: float = 2.0
    weight_l1: float = 5.0
    weight_giou: float = 2.0
    class_loss: str = "softmax"
    assignment: str = "hungarian"
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    templates: tuple[str, ...] = DETERMINER_TEMPLATES
    keyword_queries: bool = True
    pair_queries: int = 1
    hflip_prob: float = 0.5
    jitter: float = 0.2
    seed: int = 0
    log_every: int = 10

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_every"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("warmup_steps", "pair_queries", "seed"):
            require_int(name, getattr(self, name), minimum=0)
        require_positive("lr", self.lr)
        require_number("min_lr", self.min_lr, 0.0, self.lr)
        for name in ("weight_decay", "grad_clip", "cost_class", "cost_l1", "cost_giou", "weight_class",
                     "weight_l1", "weight_giou", "focal_gamma"):
            require_non_negative(name, getattr(self, name))
        for name in ("focal_alpha", "hflip_prob", "jitter"):
            require_probability(name, getattr(self, name))
        require_choice("assignment", self.assignment, ASSIGNMENTS)
        require_choice("class_loss", self.class_loss, CLASS_LOSSES)
        templates = tuple(self.templates)
        if not templates or any(not isinstance(t, str) or t.count("{}") != 1 for t in templates):
            raise ValueError(f"templates must be strings holding one '{{}}' each, got {templates!r}")
        object.__setattr__(self, "templates", templates)
        require_bool("keyword_queries", self.keyword_queries)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinetuneConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        return config_from_dict(cls, data)


# --------------------------------------------------------------------------- queries


@dataclass
class GroundingQueries:
    """The text queries of one image.

    ``texts``: Q query strings. ``positives``: per query, the indices of the objects it names
    (at least one). ``own_query``: per object, the index of the query of its own phrase.
    """

    texts: list[str]
    positives: list[list[int]]
    own_query: list[int]


def _template(rng: np.random.Generator, config: FinetuneConfig) -> str:
    return config.templates[int(rng.integers(len(config.templates)))]


def build_queries(
    phrases: Sequence[str],
    keywords: Mapping[str, tuple[str, ...]],
    rng: np.random.Generator,
    config: FinetuneConfig,
) -> GroundingQueries:
    """The queries of an image whose objects have ``phrases`` (one per object; see the module
    docstring). ``keywords``: each phrase's keywords (empty tuples when ``keyword_queries`` is off)."""
    distinct = list(dict.fromkeys(phrases))
    names = {p: [i for i, q in enumerate(phrases) if q == p] for p in distinct}
    texts, positives = [], []
    for phrase in distinct:
        texts.append(_template(rng, config).format(phrase))
        positives.append(names[phrase])
    own_query = [distinct.index(p) for p in phrases]
    if config.keyword_queries:
        for word in dict.fromkeys(k for p in distinct for k in keywords.get(p, ())):
            if word not in distinct:
                texts.append(word)
                positives.append([i for i, p in enumerate(phrases) if word in keywords.get(p, ())])
    if len(distinct) >= 2:
        for _ in range(config.pair_queries):
            a, b = (distinct[int(i)] for i in rng.choice(len(distinct), size=2, replace=False))
            texts.append(f"{_template(rng, config).format(a)} and {_template(rng, config).format(b)}")
            positives.append(sorted(names[a] + names[b]))
    return GroundingQueries(texts, positives, own_query)


# --------------------------------------------------------------------------- loss


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Element-wise sigmoid focal loss (Lin et al. 2017): ``logits``, ``targets`` of one shape."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    prob = logits.sigmoid()
    p_t = prob * targets + (1 - prob) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * ce * (1 - p_t) ** gamma


def token_softmax_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per query (column), ``-log`` of the softmax mass over image tokens (rows) on its positive
    tokens: ``logits``, ``targets`` ``[..., P, Q]`` (every column has a positive) → ``[..., Q]``."""
    positive = logits.masked_fill(targets <= 0, float("-inf"))
    return torch.logsumexp(logits, dim=-2) - torch.logsumexp(positive, dim=-2)


def match_objects(
    logits: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    objects_cxcywh: torch.Tensor,
    queries: GroundingQueries,
    config: FinetuneConfig,
) -> torch.Tensor:
    """One token per object of one image: ``logits [P, Q]``, token boxes ``[P, 4]``, objects
    ``[G, 4]`` (all normalised cxcywh) → ``[G]`` long token indices (Hungarian, see the module
    docstring); :func:`match_batch` for one image."""
    return match_batch(logits[None], boxes_cxcywh[None], [objects_cxcywh], [queries], config)[0]


def match_batch(
    logits: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    objects_cxcywh: Sequence[torch.Tensor],
    queries: Sequence[GroundingQueries],
    config: FinetuneConfig,
) -> list[torch.Tensor]:
    """:func:`match_objects` for a batch: ``logits [B, P, W]``, ``boxes_cxcywh [B, P, 4]``, B
    object tensors ``[G_b, 4]`` → B long tensors ``[G_b]``. The box costs of the whole batch are
    computed at once; the assignments are solved per image."""
    with torch.no_grad():
        batch, tokens = boxes_cxcywh.shape[:2]
        flat = torch.cat(list(objects_cxcywh)).to(boxes_cxcywh)  # [N, 4], N = Σ G_b
        cost = match_cost(
            boxes_cxcywh.reshape(-1, 4), boxes_cxcywh.new_zeros(batch * tokens), flat,
            cost_l1=config.cost_l1, cost_giou=config.cost_giou, cost_score=0.0,
        ).reshape(batch, tokens, -1)  # [B, P, N]
        prob = logits.float().sigmoid()
        matched, first = [], 0
        for b, q in enumerate(queries):
            last = first + len(objects_cxcywh[b])
            token, obj = solve_assignment(cost[b, :, first:last] - config.cost_class * prob[b][:, q.own_query])
            matched.append(token[torch.argsort(obj)].to(logits.device))
            first = last
    return matched


def centre_tokens(objects_cxcywh: torch.Tensor, grid_hw: tuple[int, int]) -> list[torch.Tensor]:
    """Per object (``[G, 4]`` normalised cxcywh), the tokens of a row-major ``(gh, gw)`` patch
    grid whose patch centre lies inside its box — or, for an object smaller than a patch, the one
    token nearest its centre. Returns G long tensors of token indices."""
    gh, gw = grid_hw
    xs = (torch.arange(gw, dtype=torch.float32) + 0.5) / gw
    ys = (torch.arange(gh, dtype=torch.float32) + 0.5) / gh
    centres = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)  # [P, 2]
    centres = centres.to(objects_cxcywh)
    points = torch.cat([centres, centres], dim=-1)  # [P, 4] degenerate xyxy boxes
    objects_xyxy = cxcywh_to_xyxy(objects_cxcywh)
    tokens = []
    for g in range(len(objects_cxcywh)):
        inside = torch.nonzero(contains(objects_xyxy[g : g + 1], points, tol=0.0)).reshape(-1)
        if len(inside) == 0:
            inside = torch.cdist(objects_cxcywh[g : g + 1, :2], centres).argmin(dim=1)
        tokens.append(inside)
    return tokens


def assign_batch(
    logits: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    objects_cxcywh: Sequence[torch.Tensor],
    queries: Sequence[GroundingQueries],
    config: FinetuneConfig,
    grid_hw: tuple[int, int],
) -> list[list[torch.Tensor]]:
    """Per image, the positive tokens of each object (G_b long tensors): the Hungarian match (one
    token each) or every token centred inside the object (``config.assignment``)."""
    if config.assignment == "centre":
        return [[t.to(logits.device) for t in centre_tokens(o, grid_hw)] for o in objects_cxcywh]
    matched = match_batch(logits, boxes_cxcywh, objects_cxcywh, queries, config)
    return [[token[g : g + 1] for g in range(len(token))] for token in matched]


def grounding_losses(
    logits: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    objects_cxcywh: torch.Tensor,
    queries: GroundingQueries,
    config: FinetuneConfig,
    grid_hw: tuple[int, int],
) -> dict[str, torch.Tensor]:
    """Unweighted ``loss_class`` (see :class:`FinetuneConfig`), ``loss_l1`` and ``loss_giou`` of
    one image: ``logits [P, Q]`` (valid queries only), ``boxes_cxcywh [P, 4]``,
    ``objects_cxcywh [G, 4]`` on a ``grid_hw`` token grid. The box terms average over each
    object's positive tokens, then over the objects; :func:`batch_grounding_losses` for one image."""
    return batch_grounding_losses(logits[None], boxes_cxcywh[None], [objects_cxcywh], [queries], config, grid_hw)


def batch_grounding_losses(
    logits: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    objects_cxcywh: Sequence[torch.Tensor],
    queries: Sequence[GroundingQueries],
    config: FinetuneConfig,
    grid_hw: tuple[int, int],
) -> dict[str, torch.Tensor]:
    """The mean over a batch of :func:`grounding_losses`, computed for all images at once:
    ``logits [B, P, W]`` (image b's columns past its own ``len(queries[b].texts)`` are padding and
    ignored), ``boxes_cxcywh [B, P, 4]``, B object tensors ``[G_b, 4]`` (normalised cxcywh)."""
    logits, boxes_cxcywh = logits.float(), boxes_cxcywh.float()
    batch, _, width = logits.shape
    device = logits.device
    objects_cxcywh = [o.to(boxes_cxcywh) for o in objects_cxcywh]
    n_queries = torch.tensor([len(q.texts) for q in queries], device=device)
    valid = torch.arange(width, device=device)[None, :] < n_queries[:, None]  # [B, W]
    logits = logits.masked_fill(~valid[:, None, :], 0.0)
    positives = assign_batch(logits, boxes_cxcywh, objects_cxcywh, queries, config, grid_hw)

    # Class targets [B, P, W]: an object's positive tokens are positive for every query naming it.
    cells = [(b, positives[b][g], q) for b, query in enumerate(queries)
             for q, names in enumerate(query.positives) for g in names]
    targets = torch.zeros_like(logits)
    targets[_indices(cells, 0), torch.cat([t for _, t, _ in cells]), _indices(cells, 2)] = 1.0
    counts = torch.tensor([max(len(o), 1) for o in objects_cxcywh], dtype=torch.float32, device=device)
    if config.class_loss == "softmax":
        # A padding column gets every token as positive: its loss is exactly 0 and stays finite.
        per_query = token_softmax_loss(logits, torch.where(valid[:, None, :], targets, 1.0))  # [B, W]
        loss_class = (per_query.sum(dim=1) / n_queries).mean()
    else:
        focal = focal_loss(logits, targets, config.focal_alpha, config.focal_gamma) * valid[:, None, :]
        loss_class = (focal.sum(dim=(1, 2)) / counts).mean()

    # Box terms on the positive tokens: each object's tokens share its weight 1 / (G_b · B).
    owned = [(b, t, objects_cxcywh[b][g]) for b, image in enumerate(positives) for g, t in enumerate(image)]
    image_index = torch.cat([torch.full_like(t, b) for b, t, _ in owned])  # [K]
    pred = boxes_cxcywh[image_index, torch.cat([t for _, t, _ in owned])]  # [K, 4]
    gt = torch.cat([box.expand(len(t), 4) for _, t, box in owned])  # [K, 4]
    weight = torch.cat([torch.full(t.shape, 1.0 / len(t), device=device) for _, t, _ in owned])
    weight = weight / counts[image_index] / batch
    giou = elementwise_generalized_box_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(gt))  # [K]
    return {
        "loss_class": loss_class,
        "loss_l1": ((pred - gt).abs().sum(dim=-1) * weight).sum(),
        "loss_giou": ((1.0 - giou) * weight).sum(),
    }


def _indices(cells: list[tuple[int, torch.Tensor, int]], field: int) -> torch.Tensor:
    """Field ``field`` (0: image, 2: query) of each cell, repeated for each of its tokens."""
    return torch.cat([torch.full_like(cell[1], cell[field]) for cell in cells])


# --------------------------------------------------------------------------- data


@dataclass
class GroundingSample:
    """One augmented image: ``image`` ``uint8 [H, W, 3]``, ``phrases`` (one per object) and
    ``boxes_cxcywh`` ``[G, 4]`` float32 normalised cxcywh of the objects in ``image``."""

    image: np.ndarray
    phrases: tuple[str, ...]
    boxes_cxcywh: torch.Tensor


def load_sample(
    item: PhraseBoxes,
    rng: np.random.Generator | None,
    config: FinetuneConfig,
    image: np.ndarray | None = None,
) -> GroundingSample:
    """Read one image and its objects; with ``rng``, flip and colour-jitter it. ``image``: the
    decoded ``uint8 [H, W, 3]`` image when already at hand (it is not modified)."""
    image = load_image(item.image_path).array if image is None else image
    boxes = item.boxes_xyxy_px
    if rng is not None:
        if rng.random() < config.hflip_prob:
            image, boxes = hflip(image, boxes)
        image = color_jitter(image, rng, config.jitter, config.jitter, config.jitter)
    height, width = image.shape[:2]
    boxes_cxcywh = torch.as_tensor(image_xyxy_px_to_model(boxes, width, height), dtype=torch.float32)
    return GroundingSample(image, item.phrases, boxes_cxcywh.reshape(-1, 4))


# --------------------------------------------------------------------------- the fine-tuner


class DeadlineSchedule:
    """A step schedule that also advances with the clock: the step it evaluates ``schedule`` at is
    ``max(step, total_steps · elapsed / max_seconds)``, elapsed counted from :meth:`start` (before
    it, the plain step). A run slower than planned therefore reaches the schedule's end — for a
    cosine, its minimum rate — when ``max_seconds`` are up; a faster one follows the plain schedule.
    ``clock``: seconds, ``time.perf_counter`` by default (tests pass their own)."""

    def __init__(
        self, schedule: CosineSchedule, max_seconds: float, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
        self.schedule, self.max_seconds, self.clock = schedule, float(max_seconds), clock
        self.started: float | None = None

    def start(self) -> None:
        """Start counting the elapsed time now."""
        self.started = self.clock()

    def __call__(self, step: int) -> float:
        if self.started is None:
            return self.schedule(step)
        share = (self.clock() - self.started) / self.max_seconds
        return self.schedule(max(step, math.floor(share * self.schedule.total_steps)))


PreparedBatch = tuple[list[GroundingSample], list[GroundingQueries], torch.Tensor]
"""A training batch ready for a step: samples, their queries and pre-processed pixel values."""


def _share_at_least(values: Sequence[float], threshold: float) -> float:
    return float(np.mean(np.asarray(values) >= threshold)) if len(values) else 0.0


@dataclass
class FinetuneResult:
    """What :meth:`GroundingFinetuner.fit` did: ``out_dir`` (the saved model), ``steps``,
    ``train`` (mean loss terms of the last epoch) and ``val`` (:meth:`GroundingFinetuner.evaluate`
    of the last epoch, None without validation data)."""

    out_dir: Path
    steps: int
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None


class GroundingFinetuner:
    """Fine-tunes every OWL-ViT parameter on a phrase-box set (see the module docstring).

    Args:
        encoder: the OWL-ViT to train (un-frozen here; moved to ``device``).
        train_set: phrase-box samples (:func:`promptcrop.data.datasets.load_phrase_boxes`).
        config: the settings.
        out_dir: where the model, processor, ``finetune_config.json`` and ``metrics.jsonl`` go.
        val_set: samples for :meth:`evaluate` after every epoch, or None.
        max_seconds: stop after the first step that ends past this wall-clock budget (the
            schedule still spans ``config.epochs``), None = no limit.
        anneal_by_deadline: with ``max_seconds``, let the cosine schedule also advance with the
            clock (:class:`DeadlineSchedule`), so that a run that cannot finish its epochs in time
            still ends at ``min_lr`` when the budget runs out instead of being cut at a high rate.
        prefetch: prepare the next batch (load, augment, queries, pre-processing) in a thread
            while the current step runs — about half of a CPU step otherwise; the results are
            identical either way.
        cache_images: decode every training image once, here, and keep it in memory (about
            ``H · W · 3`` bytes each; 1,200 synthetic scenes take 0.3 GB), so that steps skip
            reading and decoding; the results are identical either way.
    """

    def __init__(
        self,
        encoder: OwlViTEncoder,
        train_set: Sequence[PhraseBoxes],
        config: FinetuneConfig,
        out_dir: str | Path,
        *,
        val_set: Sequence[PhraseBoxes] | None = None,
        device: str | torch.device = "cpu",
        progress: bool = True,
        max_seconds: float | None = None,
        prefetch: bool = True,
        cache_images: bool = False,
        anneal_by_deadline: bool = False,
    ) -> None:
        if len(train_set) == 0:
            raise ValueError("the phrase-box training set is empty")
        if anneal_by_deadline and max_seconds is None:
            raise ValueError("anneal_by_deadline needs max_seconds")
        self.config = config
        self.device = torch.device(device)
        self.encoder = encoder.to(self.device)
        self.encoder.requires_grad_(True)
        self.train_set, self.val_set = list(train_set), list(val_set or [])
        self.out_dir = Path(out_dir)
        self.progress, self.max_seconds, self.prefetch = progress, max_seconds, prefetch
        self.batches_per_epoch = math.ceil(len(self.train_set) / config.batch_size)
        total = self.batches_per_epoch * config.epochs
        self.optimizer = adamw(
            [p for p in self.encoder.parameters() if p.requires_grad],
            lr=config.lr, weight_decay=config.weight_decay,
        )
        schedule = CosineSchedule(total, config.warmup_steps, config.min_lr / config.lr)
        self.deadline_schedule = DeadlineSchedule(schedule, max_seconds) if anneal_by_deadline else None
        self.scheduler = LambdaLR(self.optimizer, self.deadline_schedule or schedule)
        self.keywords = self._keywords()
        self.step = 0
        self._images = self._decode_all() if cache_images else None

    def _keywords(self) -> dict[str, tuple[str, ...]]:
        phrases = sorted({p for item in self.train_set + self.val_set for p in item.phrases})
        if not self.config.keyword_queries:
            return {p: () for p in phrases}
        return {p: parsed.keywords for p, parsed in zip(phrases, parse_queries(phrases))}

    def weights(self) -> dict[str, float]:
        """Loss weights by term name."""
        c = self.config
        return {"loss_class": c.weight_class, "loss_l1": c.weight_l1, "loss_giou": c.weight_giou}

    def batch_losses(
        self,
        samples: Sequence[GroundingSample],
        queries: Sequence[GroundingQueries],
        pixel_values: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Mean loss terms over a batch plus ``loss`` (weighted sum); ``pixel_values`` as in
        :meth:`_logits`."""
        encoding, logits = self._logits(samples, [q.texts for q in queries], pixel_values)
        terms = batch_grounding_losses(
            logits, encoding.boxes_cxcywh, [s.boxes_cxcywh for s in samples], queries, self.config, encoding.grid_hw
        )
        weights = self.weights()
        terms["loss"] = sum(weights[name] * value for name, value in terms.items())
        return terms

    def _logits(
        self,
        samples: Sequence[GroundingSample],
        texts: Sequence[Sequence[str]],
        pixel_values: torch.Tensor | None = None,
    ) -> tuple[ImageEncoding, torch.Tensor]:
        """Encode the images and score every token against each image's own query texts:
        ``(encoding, logits [B, P, W])``, W = most queries of an image (padding columns masked).
        ``pixel_values``: the samples already pre-processed (``[B, 3, S, S]``), if at hand."""
        if pixel_values is None:
            pixel_values = self.encoder.preprocess([s.image for s in samples])
        encoding = self.encoder.encode_images(pixel_values.to(self.device))
        embeds = self.encoder.embed_texts([t for image_texts in texts for t in image_texts]).embeds
        padded, mask = pad_queries(embeds, [len(t) for t in texts])  # [B, W, C], [B, W]
        return encoding, self.encoder.query_logits(encoding, padded, mask)

    def fit(self, *, max_steps: int | None = None) -> FinetuneResult:
        """Train (at most ``max_steps`` steps when given), evaluate after each epoch, save the
        model; see the class docstring. ``metrics.jsonl`` gets a ``train`` line every
        ``log_every`` steps and ``epoch`` / ``val`` lines after each epoch."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "finetune_config.json").write_text(
            json.dumps(self.config.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        log = MetricsLog(self.out_dir / "metrics.jsonl")
        deadline = None if self.max_seconds is None else time.perf_counter() + self.max_seconds
        if self.deadline_schedule is not None:
            self.deadline_schedule.start()
        means: dict[str, float] = {}
        val = None
        for epoch in range(self.config.epochs):
            means, stopped = self._train_epoch(epoch, log, deadline, max_steps)
            log.write("epoch", epoch=epoch, step=self.step, **means)
            if self.val_set:
                val = self.evaluate(self.val_set)
                log.write("val", epoch=epoch, step=self.step, **val)
            if stopped:
                break
        self.save()
        return FinetuneResult(self.out_dir, self.step, means, val)

    def _train_epoch(
        self, epoch: int, log: MetricsLog, deadline: float | None, max_steps: int | None
    ) -> tuple[dict[str, float], bool]:
        """One epoch; returns (mean terms, stopped early by the deadline or ``max_steps``)."""
        self.encoder.train()
        rng = np.random.default_rng([self.config.seed, epoch])
        order = rng.permutation(len(self.train_set))
        size = self.config.batch_size
        epoch_mean, window, window_start = RunningMean(), RunningMean(), time.perf_counter()
        bar = tqdm(range(0, len(order), size), desc=f"finetune {epoch + 1}/{self.config.epochs}",
                   disable=not self.progress, leave=False)
        def prepare(first: int) -> PreparedBatch:
            return self._prepare([self.train_set[int(i)] for i in order[first : first + size]], rng)

        if self.prefetch:
            batches = (future.result() for _, future in prefetch(bar, prepare, depth=2))
        else:
            batches = map(prepare, bar)
        for samples, queries, pixel_values in batches:
            if max_steps is not None and self.step >= max_steps:
                return epoch_mean.means(), True
            terms = self._step(samples, queries, pixel_values)
            epoch_mean.add(terms, len(samples))
            window.add(terms, len(samples))
            bar.set_postfix(loss=f"{terms['loss']:.3f}")
            if self.step % self.config.log_every == 0:
                seconds = time.perf_counter() - window_start
                log.write("train", epoch=epoch, step=self.step, lr=self.optimizer.param_groups[0]["lr"],
                          images_per_s=window.count / max(seconds, 1e-9), **window.means())
                window, window_start = RunningMean(), time.perf_counter()
            if deadline is not None and time.perf_counter() > deadline:
                return epoch_mean.means(), True
        return epoch_mean.means(), False

    def _prepare(self, items: Sequence[PhraseBoxes], rng: np.random.Generator) -> PreparedBatch:
        """Load and augment ``items``, draw their queries and pre-process the images; runs in the
        read-ahead thread, drawing from ``rng`` in batch order (same results as without it)."""
        samples = [load_sample(item, rng, self.config, self._cached_image(item)) for item in items]
        queries = [build_queries(s.phrases, self.keywords, rng, self.config) for s in samples]
        return samples, queries, self.encoder.preprocess([s.image for s in samples])

    def _decode_all(self) -> dict[Path, np.ndarray]:
        """Every training image, decoded and read-only, by path."""
        images = {}
        for item in self.train_set:
            if item.image_path not in images:
                images[item.image_path] = load_image(item.image_path).array
                images[item.image_path].setflags(write=False)
        return images

    def _cached_image(self, item: PhraseBoxes) -> np.ndarray | None:
        """``item``'s decoded image from the cache; None without a cache."""
        return None if self._images is None else self._images[item.image_path]

    def _step(
        self,
        samples: Sequence[GroundingSample],
        queries: Sequence[GroundingQueries],
        pixel_values: torch.Tensor | None = None,
    ) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        terms = self.batch_losses(samples, queries, pixel_values)
        terms["loss"].backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.encoder.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return {name: float(value.detach()) for name, value in terms.items()}

    @torch.no_grad()
    def evaluate(self, items: Sequence[PhraseBoxes]) -> dict[str, float]:
        """Grounding quality on un-augmented images. Every distinct phrase of an image and, with
        ``keyword_queries``, every keyword of its phrases is grounded (highest-logit token); its box
        is compared with the objects the query names. ``acc50`` / ``mean_iou``: share of phrase
        queries whose box has IoU ≥ 0.5 with one of them, and the mean of that best IoU;
        ``keyword_acc50``: the same share for the keyword queries (0 without any)."""
        was_training = self.encoder.training
        self.encoder.eval()
        plain = dataclasses.replace(self.config, templates=("{}",), pair_queries=0)
        rng = np.random.default_rng(0)  # unused: one template and no pairs leave nothing to draw
        phrase_ious: list[float] = []
        keyword_ious: list[float] = []
        size = self.config.batch_size
        for first in range(0, len(items), size):
            samples = [load_sample(item, None, self.config) for item in items[first : first + size]]
            queries = [build_queries(s.phrases, self.keywords, rng, plain) for s in samples]
            encoding, logits = self._logits(samples, [q.texts for q in queries])
            best = logits.argmax(dim=1)  # [B, W]
            for b, (sample, q) in enumerate(zip(samples, queries)):
                chosen = encoding.boxes_cxcywh[b, best[b, : len(q.texts)]].float().cpu()  # [Q, 4]
                iou = box_iou(cxcywh_to_xyxy(chosen), cxcywh_to_xyxy(sample.boxes_cxcywh))  # [Q, G]
                n_phrases = len(set(sample.phrases))
                for i, named in enumerate(q.positives):
                    (phrase_ious if i < n_phrases else keyword_ious).append(float(iou[i, named].max()))
        self.encoder.train(was_training)
        return {"acc50": _share_at_least(phrase_ious, 0.5),
                "mean_iou": float(np.mean(phrase_ious)) if phrase_ious else 0.0,
                "keyword_acc50": _share_at_least(keyword_ious, 0.5)}

    def save(self) -> Path:
        """Write the model and processor with ``save_pretrained`` into ``out_dir``."""
        self.encoder.model.save_pretrained(self.out_dir)
        self.encoder.processor.save_pretrained(self.out_dir)
        return self.out_dir
