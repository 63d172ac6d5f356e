"""Runs the evaluation methods over a data set, keeps every per-sample result, and aggregates.

Two kinds of data set (formats in docs/DATA.md, metrics in docs/METRICS.md):

- ``captions`` — a caption-crop set (one JSON list of image, query and annotator boxes): each
  method's top-1 box is scored with IoU-Mean / IoU-Max against the annotator boxes;
- ``gaic`` — a GAIC-layout split: each method's top 4 boxes are mapped to the annotated candidates
  (the free-box mapping of docs/METRICS.md) and scored with Acc1/5, Acc1/10, Acc̄5, Acc̄10, plus
  the mean top-1 mapping IoU. With ``text_labels`` the caption of each image is the query of the
  conditioned methods; without it those methods are skipped.

Everything runs in a fixed order (samples in data set order, methods in registry order), so two runs
of the same configuration give identical results. Timings are kept apart (:attr:`EvalResults.seconds`)
so they never enter the deterministic results.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from promptcrop import metrics as M
from promptcrop.data.datasets import load_caption_set, load_gaic_eval
from promptcrop.errors import PromptcropError
from promptcrop.eval.methods import (
    METHOD_NAMES,
    TOP_K,
    Method,
    MethodOutput,
    MethodPool,
    MethodResult,
    ModelSettings,
    get_methods,
)
from promptcrop.images import load_image
from promptcrop.options import PredictorOptions

DATASET_KINDS = ("captions", "gaic")

CAPTION_METRICS = ("iou_mean", "iou_max")
"""Aggregate (and per-sample) metrics of a caption-crop set, each in [0, 1]."""

GAIC_METRICS = ("acc1_5", "acc1_10", "acc_bar_5", "acc_bar_10", "mapping_iou")
"""Aggregate metrics of a GAIC split, each a fraction in [0, 1] (the paper prints Acc × 100)."""

GAIC_SAMPLE_METRICS = ("acc1_5", "acc1_10", "mapping_iou")
"""Per-image metrics of a GAIC split (Acc̄ only exists over the data set)."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run.

    ``dataset``: ``captions`` | ``gaic``. ``root``: for ``gaic`` the folder holding ``images/`` and
    ``annotations/``; for ``captions`` a caption-set JSON file, or a folder holding
    ``captions/<split>.json`` (the synthetic generator's layout). ``split``: ``train`` | ``val`` |
    ``test``. ``text_labels``: GAIC caption folder or file (``gaic`` only; None = no queries).
    ``methods``: method names (see :mod:`promptcrop.eval.methods`). ``limit``: evaluate only the
    first N samples (None = all). ``predictor`` and ``k`` are :class:`~promptcrop.eval.methods.ModelSettings`.
    """

    dataset: str
    root: str
    split: str = "test"
    text_labels: str | None = None
    methods: tuple[str, ...] = METHOD_NAMES
    predictor: PredictorOptions = field(default_factory=PredictorOptions)
    k: int = TOP_K
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_KINDS:
            raise ValueError(f"dataset must be one of {', '.join(DATASET_KINDS)}, got {self.dataset!r}")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, got {self.split!r}")
        if self.text_labels is not None and self.dataset != "gaic":
            raise ValueError("text_labels only applies to the gaic data set (captions sets carry queries)")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer or None, got {self.limit!r}")
        if self.k < max(M.ACC_BAR_KS):
            raise ValueError(f"k must be at least {max(M.ACC_BAR_KS)} (Acc̄ uses the top 4), got {self.k}")
        object.__setattr__(self, "methods", tuple(m.name for m in get_methods(self.methods)))

    def model_settings(self) -> ModelSettings:
        """The weights and device part of the configuration."""
        return ModelSettings(predictor=self.predictor, k=self.k)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict of every field."""
        return asdict(self)


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class EvalSample:
    """One (image, query) to evaluate.

    ``sample_id``: stable id (GAIC image id; caption-set entry index, zero-padded). ``image_path``:
    the image file. ``image``: its path relative to the data set root, for the report. ``query``:
    the text condition (None: no query). ``boxes_xyxy_px``: ``[N, 4]`` float64 pixel xyxy of the
    EXIF-upright image — the annotator boxes (``captions``) or the candidate crops (``gaic``).
    ``mos``: ``[N]`` float64 MOS of the candidates (``gaic``), ``None`` for ``captions``.
    """

    sample_id: str
    image_path: Path
    image: str
    query: str | None
    boxes_xyxy_px: np.ndarray
    mos: np.ndarray | None = None


def caption_set_path(root: Path | str, split: str) -> Path:
    """``root`` when it is a file, else ``root/captions/<split>.json``."""
    root = Path(root)
    return root if root.is_file() else root / "captions" / f"{split}.json"


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def load_samples(config: EvalConfig) -> list[EvalSample]:
    """The samples ``config`` names, in data set order, cut to ``config.limit``. Raises
    :class:`~promptcrop.errors.DatasetError` for a missing or malformed data set."""
    if config.dataset == "captions":
        path = caption_set_path(config.root, config.split)
        samples = [
            EvalSample(f"{i:05d}", s.image_path, _relative(s.image_path, path.parent), s.query,
                       s.boxes_xyxy_px)
            for i, s in enumerate(load_caption_set(path))
        ]
    else:
        root = Path(config.root)
        samples = [
            EvalSample(s.image_id, s.image_path, _relative(s.image_path, root), s.caption,
                       s.crops_xyxy_px, s.mos)
            for s in load_gaic_eval(root, config.split, config.text_labels)
        ]
    return samples[: config.limit]


# --------------------------------------------------------------------------- metrics


def _top1(output: MethodOutput) -> np.ndarray:
    return output.boxes_xyxy_px[:1]


def caption_sample_metrics(output: MethodOutput, sample: EvalSample) -> dict[str, float]:
    """IoU-Mean / IoU-Max of the top-1 box against the annotator boxes."""
    r = M.iou_mean_max(_top1(output), sample.boxes_xyxy_px)
    return {"iou_mean": r.mean, "iou_max": r.max}


def caption_metrics(outputs: Sequence[MethodOutput], samples: Sequence[EvalSample]) -> dict[str, float]:
    """IoU-Mean / IoU-Max over the data set (one output per sample)."""
    r = M.dataset_iou_mean_max([_top1(o) for o in outputs], [s.boxes_xyxy_px for s in samples])
    return {"iou_mean": r.mean, "iou_max": r.max}


def gaic_sample_metrics(output: MethodOutput, sample: EvalSample) -> dict[str, float]:
    """Acc1/5, Acc1/10 and the top-1 mapping IoU of one image."""
    acc5 = M.acc_k_n(output.boxes_xyxy_px, sample.boxes_xyxy_px, sample.mos, 1, 5)
    acc10 = M.acc_k_n(output.boxes_xyxy_px, sample.boxes_xyxy_px, sample.mos, 1, 10)
    return {"acc1_5": acc5.acc, "acc1_10": acc10.acc, "mapping_iou": acc5.mapping_iou}


def gaic_metrics(outputs: Sequence[MethodOutput], samples: Sequence[EvalSample]) -> dict[str, float]:
    """Acc1/5, Acc1/10, Acc̄5, Acc̄10 and the mean top-1 mapping IoU over the data set."""
    args = (
        [o.boxes_xyxy_px for o in outputs],
        [s.boxes_xyxy_px for s in samples],
        [s.mos for s in samples],
    )
    acc1_5 = M.dataset_acc_k_n(*args, 1, 5)
    return {
        "acc1_5": acc1_5.acc,
        "acc1_10": M.dataset_acc_k_n(*args, 1, 10).acc,
        "acc_bar_5": M.acc_bar_n(*args, 5).acc,
        "acc_bar_10": M.acc_bar_n(*args, 10).acc,
        "mapping_iou": acc1_5.mapping_iou,
    }


SampleScorer = Callable[[MethodOutput, EvalSample], dict[str, float]]
DatasetScorer = Callable[[Sequence[MethodOutput], Sequence[EvalSample]], dict[str, float]]

SCORERS: dict[str, tuple[SampleScorer, DatasetScorer]] = {
    "captions": (caption_sample_metrics, caption_metrics),
    "gaic": (gaic_sample_metrics, gaic_metrics),
}
"""Per data set kind: (per-sample scorer, data set scorer)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MethodSummary:
    """One method over the data set.

    ``status``: ``"ok"`` or ``"skipped"`` (then ``note`` says why and ``metrics`` is empty).
    ``metrics``: aggregate metric name → value (:data:`CAPTION_METRICS` or :data:`GAIC_METRICS`).
    ``errors``: samples on which the method raised (they score 0; see the per-sample ``error``).
    """

    name: str
    label: str
    group: str
    status: str
    note: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    errors: int = 0


@dataclass(frozen=True)
class SampleRecord:
    """One sample with every run method's result and per-sample metrics (keyed by method name)."""

    sample: EvalSample
    results: dict[str, MethodResult]
    metrics: dict[str, dict[str, float]]


@dataclass
class EvalResults:
    """What :func:`evaluate` returns.

    ``config``: the run's configuration (None when :func:`evaluate` was called directly).
    ``dataset``: ``captions`` | ``gaic``. ``methods``: one summary per requested method, in registry
    order, skipped ones included. ``samples``: one record per sample, in data set order.
    ``seconds``: wall-clock time of the run (kept out of the deterministic report).
    """

    dataset: str
    methods: list[MethodSummary]
    samples: list[SampleRecord]
    config: EvalConfig | None = None
    seconds: float = 0.0

    def method(self, name: str) -> MethodSummary:
        """The summary of method ``name`` (KeyError when it was not requested)."""
        for summary in self.methods:
            if summary.name == name:
                return summary
        raise KeyError(name)


# --------------------------------------------------------------------------- running


def skip_reason(method: Method, samples: Sequence[EvalSample], pool: MethodPool) -> str | None:
    """Why ``method`` cannot run on ``samples`` (one line), or None."""
    if method.needs_query and any(s.query is None for s in samples):
        missing = sum(s.query is None for s in samples)
        return f"needs a text query; {missing} of {len(samples)} samples have none (GAIC: pass --text-labels)"
    return pool.unavailable_reason(method)


def _run_sample(pool: MethodPool, methods: Sequence[Method], sample: EvalSample) -> dict[str, MethodResult]:
    try:
        image = load_image(sample.image_path).array
    except PromptcropError as exc:
        return {m.name: MethodResult(MethodOutput.empty(), error=str(exc)) for m in methods}
    return pool.run_sample(methods, image, sample.query)


def evaluate(
    samples: Sequence[EvalSample],
    methods: Sequence[Method],
    pool: MethodPool,
    dataset: str,
    *,
    progress: bool = True,
) -> EvalResults:
    """Run ``methods`` on every sample and score them.

    Methods that cannot run (see :func:`skip_reason`) are reported as skipped, never dropped. The
    progress bar (tqdm) goes to stderr. Samples are run one at a time, each image decoded once.
    """
    if dataset not in SCORERS:
        raise ValueError(f"dataset must be one of {', '.join(SCORERS)}, got {dataset!r}")
    score_sample, score_dataset = SCORERS[dataset]
    reasons = {m.name: skip_reason(m, samples, pool) for m in methods}
    runnable = [m for m in methods if reasons[m.name] is None]
    start = time.perf_counter()
    records: list[SampleRecord] = []
    bar = tqdm(samples, desc=f"eval {dataset}", unit="sample", disable=not progress or not runnable)
    for sample in bar:
        results = _run_sample(pool, runnable, sample) if runnable else {}
        metrics = {name: score_sample(r.output, sample) for name, r in results.items()}
        records.append(SampleRecord(sample, results, metrics))
    summaries = [_summarise(m, reasons[m.name], records, samples, score_dataset) for m in methods]
    return EvalResults(dataset, summaries, records, seconds=time.perf_counter() - start)


def _summarise(
    method: Method,
    reason: str | None,
    records: Sequence[SampleRecord],
    samples: Sequence[EvalSample],
    score_dataset: DatasetScorer,
) -> MethodSummary:
    if reason is not None:
        return MethodSummary(method.name, method.label, method.group, "skipped", note=reason)
    results = [r.results[method.name] for r in records]
    errors = sum(r.error is not None for r in results)
    note = f"failed on {errors} of {len(results)} samples (scored 0)" if errors else None
    return MethodSummary(
        method.name, method.label, method.group, "ok", note=note,
        metrics=score_dataset([r.output for r in results], samples), errors=errors,
    )


def run_evaluation(config: EvalConfig, *, progress: bool = True) -> EvalResults:
    """Load the data set ``config`` names, run its methods, and return the scored results."""
    samples = load_samples(config)
    pool = MethodPool(config.model_settings())
    results = evaluate(samples, get_methods(config.methods), pool, config.dataset, progress=progress)
    results.config = config
    return results
