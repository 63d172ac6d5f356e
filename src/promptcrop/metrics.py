"""Evaluation metrics (docs/METRICS.md): IoU-Mean / IoU-Max, GAIC Acc_K/N and Acc̄_N, SRCC / PCC.

Pure functions: numpy arrays (or anything ``np.asarray`` accepts) in, Python floats out — wrapped in
a small frozen dataclass where a metric is a pair of numbers. Each metric has a *per-sample*
function (one image, or one (image, query) pair) and a *data-set* aggregator that takes sequences
with one entry per sample and averages over the real number of samples.

Boxes are xyxy in any one consistent unit (pixels of the original image, or normalised); no
function here converts formats (that is :mod:`promptcrop.boxes`).

Degenerate inputs have a defined, finite result — never an exception, never NaN:

- a zero-area, inverted or non-finite box has IoU 0 with every box;
- an empty prediction (no box, no score) scores 0 on every metric;
- a sample without ground truth (no annotator box, no candidate) scores 0;
- an image with fewer than N candidates uses N = its number of candidates (Acc_K/N);
- a correlation that is undefined (fewer than 2 candidates, or constant scores or MOS — e.g.
  all-equal MOS) is 0;
- a data-set aggregate over zero samples is 0.

Malformed input (wrong shapes, mismatched lengths, K or N < 1, non-finite scores or MOS) raises
``ValueError`` with a message naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from promptcrop.boxes import box_iou
from promptcrop.validation import require_positive_int

ACC_BAR_KS: tuple[int, ...] = (1, 2, 3, 4)
"""The K values Acc̄_N averages over."""


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class IouMeanMax:
    """IoU between a top-1 crop and the annotator boxes.

    ``mean``: mean IoU over the annotator boxes (IoU-Mean), in [0, 1].
    ``max``: max IoU over the annotator boxes (IoU-Max), in [0, 1].
    """

    mean: float
    max: float


@dataclass(frozen=True)
class RankedCrops:
    """The crops a method returned for one image, best first, as GAIC candidates.

    ``mos``: ``[R]`` float, the MOS of each returned crop (for a free box: the MOS of the candidate
    it maps to).
    ``mapping_iou``: ``[R]`` float in [0, 1], IoU between each returned box and that candidate
    (1.0 when the method scored the candidates themselves).
    """

    mos: np.ndarray
    mapping_iou: np.ndarray


@dataclass(frozen=True)
class AccResult:
    """GAIC accuracy for one image or averaged over a data set.

    ``acc``: Acc_K/N as a fraction in [0, 1] (multiply by 100 for the paper's tables).
    ``mapping_iou``: mean IoU between the top-K returned boxes and the candidates they were mapped
    to, in [0, 1]; 1.0 for a method that scores the candidates; 0 where nothing was returned.
    """

    acc: float
    mapping_iou: float


@dataclass(frozen=True)
class Correlation:
    """Rank and linear correlation between predicted scores and MOS, each in [-1, 1].

    ``srcc``: Spearman rank correlation. ``pcc``: Pearson correlation.
    """

    srcc: float
    pcc: float


# --------------------------------------------------------------------------- input checks


def _as_boxes(boxes: object, name: str) -> np.ndarray:
    """``None``, ``[]``, ``[4]`` or ``[R, 4]`` → float64 ``[R, 4]`` (R may be 0)."""
    if boxes is None:
        return np.zeros((0, 4))
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be xyxy boxes of shape [R, 4], got shape {arr.shape}")
    return arr


def _as_values(values: object, name: str) -> np.ndarray:
    """A finite 1-D float64 array (``None`` or empty → shape ``[0]``)."""
    arr = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers, got {arr[~np.isfinite(arr)][:3]}")
    return arr


def _check_same_length(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{a_name} has {len(a)} entries but {b_name} has {len(b)}")


def _safe_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``[R, C]`` where non-finite boxes give 0 instead of NaN."""
    iou = np.nan_to_num(box_iou(a_xyxy, b_xyxy), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(iou, 0.0, 1.0)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else 0.0


def _check_sample_counts(**sequences: Sequence[object]) -> int:
    counts = {name: len(seq) for name, seq in sequences.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"one entry per sample is needed in each sequence, got counts {counts}")
    return next(iter(counts.values()), 0)


# --------------------------------------------------------------------------- IoU-Mean / IoU-Max


def iou_mean_max(pred_box: object, gt_boxes: object) -> IouMeanMax:
    """IoU-Mean and IoU-Max of one sample.

    ``pred_box``: the top-1 predicted crop, xyxy ``[4]`` (or ``[1, 4]``); ``None`` or empty means
    the method returned nothing → both 0. ``gt_boxes``: the annotator boxes, xyxy ``[G, 4]`` in the
    same units; G = 0 → both 0. Zero-area or non-finite boxes have IoU 0.
    """
    pred = _as_boxes(pred_box, "pred_box")
    if len(pred) > 1:
        raise ValueError(f"pred_box must be one box, got {len(pred)}")
    gt = _as_boxes(gt_boxes, "gt_boxes")
    if len(pred) == 0 or len(gt) == 0:
        return IouMeanMax(mean=0.0, max=0.0)
    iou = _safe_iou(pred, gt)[0]  # [G]
    return IouMeanMax(mean=float(iou.mean()), max=float(iou.max()))


def dataset_iou_mean_max(pred_boxes: Sequence[object], gt_boxes: Sequence[object]) -> IouMeanMax:
    """IoU-Mean / IoU-Max averaged over samples (one top-1 box and one ``[G, 4]`` array each).

    Every sample counts, including degenerate ones (which score 0); no samples → both 0.
    """
    _check_sample_counts(pred_boxes=pred_boxes, gt_boxes=gt_boxes)
    per_sample = [iou_mean_max(p, g) for p, g in zip(pred_boxes, gt_boxes)]
    return IouMeanMax(
        mean=_mean([s.mean for s in per_sample]), max=_mean([s.max for s in per_sample])
    )


# --------------------------------------------------------------------------- Acc_K/N (GAIC)


def nth_highest_mos(mos: object, n: int) -> float:
    """The N-th highest MOS of an image, the GAIC hit threshold.

    ``mos``: ``[C]`` MOS of the image's candidates. With fewer than N candidates, N is the number
    of candidates (so the threshold is the lowest MOS); with no candidates the result is +inf (no
    crop can be a hit).
    """
    require_positive_int("n", n)
    values = _as_values(mos, "mos")
    if len(values) == 0:
        return float("inf")
    n_eff = min(int(n), len(values))
    return float(np.sort(values)[::-1][n_eff - 1])


def ranked_crops_from_scores(pred_scores: object, mos: object) -> RankedCrops:
    """Rank an image's candidates by predicted score (highest first).

    ``pred_scores``: ``[C]`` one score per candidate; ``mos``: ``[C]``. Equal scores keep the
    candidates' order (stable sort). Mapping IoUs are 1: each returned crop is a candidate.
    """
    scores = _as_values(pred_scores, "pred_scores")
    values = _as_values(mos, "mos")
    _check_same_length(scores, "pred_scores", values, "mos")
    order = np.argsort(-scores, kind="stable")
    return RankedCrops(mos=values[order], mapping_iou=np.ones(len(order)))


def ranked_crops_from_boxes(
    ranked_boxes: object, candidate_boxes: object, mos: object
) -> RankedCrops:
    """Map ranked free boxes to GAIC candidates **[ours]** (docs/METRICS.md, "Free boxes").

    ``ranked_boxes``: ``[R, 4]`` xyxy, best first; ``candidate_boxes``: ``[C, 4]`` xyxy in the same
    units; ``mos``: ``[C]``. Each box takes the MOS of its highest-IoU candidate (the first one on
    equal IoU). A box overlapping no candidate (zero-area, non-finite or disjoint) maps to nothing:
    MOS -inf (never a hit), IoU 0. No candidates → nothing can be mapped (empty result).
    """
    boxes = _as_boxes(ranked_boxes, "ranked_boxes")
    candidates = _as_boxes(candidate_boxes, "candidate_boxes")
    values = _as_values(mos, "mos")
    _check_same_length(candidates, "candidate_boxes", values, "mos")
    if len(boxes) == 0 or len(candidates) == 0:
        return RankedCrops(mos=np.zeros(0), mapping_iou=np.zeros(0))
    iou = _safe_iou(boxes, candidates)  # [R, C]
    best = iou.argmax(axis=1)  # [R]
    best_iou = iou[np.arange(len(boxes)), best]  # [R]
    mapped_mos = np.where(best_iou > 0, values[best], -np.inf)
    return RankedCrops(mos=mapped_mos, mapping_iou=best_iou)


def _ranked_crops(
    pred_scores_or_ranked_boxes: object, candidate_boxes: object, mos: object
) -> RankedCrops:
    pred = np.asarray(
        [] if pred_scores_or_ranked_boxes is None else pred_scores_or_ranked_boxes,
        dtype=np.float64,
    )
    if pred.size == 0:
        return RankedCrops(mos=np.zeros(0), mapping_iou=np.zeros(0))
    if pred.ndim == 1:
        candidates = _as_boxes(candidate_boxes, "candidate_boxes")
        _check_same_length(pred, "pred_scores", candidates, "candidate_boxes")
        return ranked_crops_from_scores(pred, mos)
    return ranked_crops_from_boxes(pred, candidate_boxes, mos)


def acc_k_n(
    pred_scores_or_ranked_boxes: object, candidate_boxes: object, mos: object, k: int, n: int
) -> AccResult:
    """GAIC Acc_K/N of one image.

    ``pred_scores_or_ranked_boxes``: either ``[C]`` predicted scores for the candidates (they are
    ranked by score) or ``[R, 4]`` xyxy free boxes, best first (one box is ``[1, 4]``); each free
    box is mapped to its highest-IoU candidate, see :func:`ranked_crops_from_boxes`.
    ``candidate_boxes``: ``[C, 4]`` xyxy; ``mos``: ``[C]``.

    A returned crop is a hit when its MOS is >= the N-th highest MOS of the image (ties count; fewer
    than N candidates → N = C, see :func:`nth_highest_mos`). ``acc`` = hits among the top K / K: a
    method that returns fewer than K crops gets misses for the missing ones; an empty prediction or
    an image without candidates scores 0. ``mapping_iou`` = mean over the returned top-K crops.
    """
    require_positive_int("k", k)
    require_positive_int("n", n)
    ranked = _ranked_crops(pred_scores_or_ranked_boxes, candidate_boxes, mos)
    top_mos, top_iou = ranked.mos[:k], ranked.mapping_iou[:k]
    if len(top_mos) == 0:
        return AccResult(acc=0.0, mapping_iou=0.0)
    hits = int(np.count_nonzero(top_mos >= nth_highest_mos(mos, n)))
    return AccResult(acc=hits / int(k), mapping_iou=float(top_iou.mean()))


def dataset_acc_k_n(
    predictions: Sequence[object],
    candidate_boxes: Sequence[object],
    mos: Sequence[object],
    k: int,
    n: int,
) -> AccResult:
    """Acc_K/N averaged over the real number of images (one entry per image in each sequence).

    Each entry is what :func:`acc_k_n` takes for one image. ``mapping_iou`` is the mean of the
    per-image mapping IoUs. No images → 0, 0.
    """
    _check_sample_counts(predictions=predictions, candidate_boxes=candidate_boxes, mos=mos)
    per_image = [
        acc_k_n(p, c, m, k, n) for p, c, m in zip(predictions, candidate_boxes, mos)
    ]
    return AccResult(
        acc=_mean([r.acc for r in per_image]),
        mapping_iou=_mean([r.mapping_iou for r in per_image]),
    )


def acc_bar_n(
    predictions: Sequence[object],
    candidate_boxes: Sequence[object],
    mos: Sequence[object],
    n: int,
    ks: Sequence[int] = ACC_BAR_KS,
) -> AccResult:
    """Acc̄_N: the data-set Acc_K/N averaged over K = 1..4 (both fields averaged over K)."""
    if len(ks) == 0:
        raise ValueError("acc_bar_n needs at least one K")
    per_k = [dataset_acc_k_n(predictions, candidate_boxes, mos, k, n) for k in ks]
    return AccResult(
        acc=_mean([r.acc for r in per_k]), mapping_iou=_mean([r.mapping_iou for r in per_k])
    )


# --------------------------------------------------------------------------- SRCC / PCC


def _correlation_or_zero(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0


def srcc_pcc(pred_scores: object, mos: object) -> Correlation:
    """Spearman and Pearson correlation between one image's predicted scores and MOS (``[C]`` each).

    Undefined cases give 0: fewer than 2 candidates, or constant predictions or constant MOS.
    """
    scores = _as_values(pred_scores, "pred_scores")
    values = _as_values(mos, "mos")
    _check_same_length(scores, "pred_scores", values, "mos")
    if len(scores) < 2 or np.ptp(scores) == 0 or np.ptp(values) == 0:
        return Correlation(srcc=0.0, pcc=0.0)
    from scipy import stats  # imported here: it takes about 0.3 s, and only this needs it

    srcc = stats.spearmanr(scores, values).statistic
    pcc = stats.pearsonr(scores, values).statistic
    return Correlation(srcc=_correlation_or_zero(srcc), pcc=_correlation_or_zero(pcc))


def dataset_srcc_pcc(pred_scores: Sequence[object], mos: Sequence[object]) -> Correlation:
    """SRCC / PCC per image, averaged over the real number of images (no images → 0, 0)."""
    _check_sample_counts(pred_scores=pred_scores, mos=mos)
    per_image = [srcc_pcc(p, m) for p, m in zip(pred_scores, mos)]
    return Correlation(
        srcc=_mean([c.srcc for c in per_image]), pcc=_mean([c.pcc for c in per_image])
    )
