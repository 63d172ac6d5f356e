"""One post-processing path: candidate crops from any source → the request applied → the Prediction.

A **candidate source** proposes crops for each requested ratio as a :class:`Proposal`: boxes
``[N, 4]`` xyxy pixels of the full, EXIF-upright image, scores ``[N]`` in [0, 1], and its own
ranking. Sources: the composer (:func:`promptcrop.composer.propose`: composition-scored crops
around the grounded or salient region — the ``zeroshot`` and ``offline`` modes and the decoder's
fallback) and the trained decoder (:func:`decoder_proposal`, the ``clipcrop`` mode). Whatever the
source (asked once for every requested ratio), :func:`apply_request` then does, per requested ratio
and in this order:

1. **fit** — each box becomes the ratio around itself and the caller's focus boxes: a box already
   at the ratio that holds them is kept; otherwise the smallest box of the ratio holding both,
   inside the image. When they cannot fit at that ratio inside the image, ``fit="pad"``
   letterboxes them (the box leaves the image; the outside is filled with the image's
   :func:`border_colour`; a canvas above ``max_pixels`` is never made — RequestError when no
   smaller one exists); otherwise the largest crop of the ratio is kept, moved to hold the focus
   boxes when they fit, and reports ``fits=False``. ``fits`` is False whenever what the crop was built to keep (the focus boxes and
   the source's region or box) is not all inside it.
2. **avoid** — a crop holding more than :data:`AVOID_TOLERANCE` of an avoid box (the caller's
   boxes, and the grounded ``exclude`` phrases) ranks below every crop holding none, and its score
   is multiplied by 1 − the largest share of an avoid box it holds.
3. **rank** — crops that fit first, then crops free of avoid boxes, then the source's own order.
4. **k distinct framings** — :func:`distinct_framings`, the one dedup rule of every mode.
5. **pixels** — whole pixels with the ratio exact to 1 px (:func:`promptcrop.boxes.snap_to_pixels`,
   or :func:`round_letterbox` for a letterbox), the exact output size carried to the
   :class:`~promptcrop.results.CropResult`.

The video path (:mod:`promptcrop.reframe`) takes its keyframes' crops from this path, and its
per-frame camera boxes through the same fit and pixels steps (:func:`path_boxes`), so a frame's
crop has the size and rounding the same frame would get as a photo (:func:`largest_crop_size`).

:func:`build_prediction` is the one place a :class:`~promptcrop.results.Prediction` is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from promptcrop import boxes as B
from promptcrop.errors import InternalError, RequestError
from promptcrop.request import AspectRatio, CropRequest, RequestLimits
from promptcrop.results import FREE_RATIO, ORIGINAL_RATIO, CropResult, GroundedBox, Prediction
from promptcrop.saliency.grid import median

#: The one dedup rule: crops of one ratio overlap pairwise less than this IoU. The composer's
#: threshold (0.6) rather than the decoder's former 0.7: alternatives are meant to be different
#: framings, and at 0.7 two crops sharing most of their pixels still passed as two choices.
DEDUP_IOU = 0.6
#: Alternatives also differ from every crop ranked above them by at least this area ratio when
#: enough candidates allow (a tighter or looser framing, not the same size slid along).
FRAMING_STEP = 1.25
#: A crop holding more than this share of an avoid box counts as holding it.
AVOID_TOLERANCE = 0.02
#: Relative tolerance for "this box already has the requested ratio".
RATIO_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Proposal:
    """Candidate crops one source proposes for one ratio.

    - ``boxes``: float ``[N, 4]`` xyxy px of the full image (N ≥ 1); inside the image unless the
      source letterboxed them itself (the composer with ``fit="pad"``).
    - ``scores``: float ``[N]`` in [0, 1].
    - ``order``: the source's preference, higher first (default: ``scores``).
    - ``fits``: bool ``[N]``: whether the box holds the region the source built it to keep
      (default: all True — a decoder box is its own region).
    - ``aspect``: the ratio the boxes were made at, ``None`` for free-ratio boxes (decoder).
    - ``terms``: term name → ``[N]`` values of the source's score breakdown (``--explain``).
    """

    boxes: np.ndarray
    scores: np.ndarray
    aspect: float | None = None
    order: np.ndarray | None = None
    fits: np.ndarray | None = None
    terms: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", np.clip(np.nan_to_num(np.asarray(self.scores, float)), 0.0, 1.0))
        if self.order is None:
            object.__setattr__(self, "order", self.scores)
        if self.fits is None:
            object.__setattr__(self, "fits", np.ones(n, dtype=bool))
        if self.scores.shape != (n,) or np.shape(self.order) != (n,) or np.shape(self.fits) != (n,):
            raise InternalError(f"a proposal needs one score, order and fits flag per box ({n} boxes)")


#: What a mode hands to :func:`apply_request`: the proposals for the requested ratios (``None`` = no
#: ratio asked), one per ratio in request order, from one call (a source may share work between
#: ratios: the composer scores every ratio's candidates in one pass).
CandidateSource = Callable[[Sequence[float | None]], list[Proposal]]


@dataclass(frozen=True, eq=False)
class Selected:
    """The crops :func:`select` keeps for one ratio, best first.

    ``index [M]`` rows of the proposal; ``boxes [M, 4]`` float xyxy px after fitting (letterboxes
    may leave the image); ``scores [M]`` after the avoid factor; ``fits`` / ``padded`` ``[M]``;
    """

    index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    fits: np.ndarray
    padded: np.ndarray


# ---------------------------------------------------------------------- the request, applied


def apply_request(
    source: CandidateSource,
    request: CropRequest,
    *,
    image_size: tuple[int, int],
    image_rgb: np.ndarray,
    mode: str,
    limits: RequestLimits,
    dedup_iou: float = DEDUP_IOU,
) -> list[CropResult]:
    """Every requested ratio through the one path: the crops in request order, then rank.

    ``image_size``: ``(W, H)`` of the full upright image; ``image_rgb``: that image or a reduced
    copy of it (``[h, w, 3]`` uint8, read for the pad colour only).
    """
    width, height = image_size
    focus = focus_box(request.focus, width, height)
    crops: list[CropResult] = []
    proposals = source([aspect.value for aspect in request.aspects])
    if len(proposals) != len(request.aspects):
        raise InternalError(f"a candidate source gave {len(proposals)} proposals for {len(request.aspects)} ratios")
    for aspect, proposal in zip(request.aspects, proposals):
        ratio = aspect.value if aspect.value is not None else proposal.aspect
        chosen = select(
            proposal, ratio, focus=focus, avoid=request.avoid, fit=request.fit, k=request.k,
            image_size=image_size, limits=limits, dedup_iou=dedup_iou,
        )
        colour = border_colour(image_rgb) if chosen.padded.any() else None
        crops.extend(_results(proposal, chosen, ratio, _label(aspect, ratio), mode, request, colour, image_size))
    return crops


def select(
    proposal: Proposal,
    aspect: float | None,
    *,
    focus: np.ndarray | None,
    avoid: np.ndarray,
    fit: str,
    k: int,
    image_size: tuple[int, int],
    limits: RequestLimits,
    dedup_iou: float = DEDUP_IOU,
) -> Selected:
    """Fit, push avoid boxes down, rank and pick ``k`` distinct framings of one proposal.

    ``aspect``: width / height, ``None`` = free ratio; ``focus``: the ``[4]`` box every crop must
    hold (:func:`focus_box`) or None; ``avoid``: ``[A, 4]`` xyxy px; ``limits``: a letterbox
    canvas above ``limits.max_pixels`` is never chosen (RequestError when every one is).
    """
    width, height = image_size
    fitted, held, padded = fit_boxes(proposal.boxes, aspect, focus, fit, width, height)
    canvas = np.zeros((len(fitted), 4))
    for i in np.flatnonzero(padded):  # letterboxes only: most crops are none
        canvas[i] = round_letterbox(fitted[i], aspect)
    sides = (canvas[:, 2:] - canvas[:, :2]).astype(np.int64)  # [N, 2] W, H of each letterbox
    allowed = sides.prod(axis=-1) <= limits.max_pixels
    if not allowed.any():
        w, h = sides[int(np.argmin(sides.prod(axis=-1)))]
        limits.check_canvas("fit", int(w), int(h))  # the smallest letterbox: raises RequestError
    fits = proposal.fits & held
    share = B.box_coverage(fitted, avoid).max(axis=-1) if len(avoid) else np.zeros(len(fitted))
    scores = proposal.scores * (1.0 - share)
    # Lexicographic: fits first, then free of avoid boxes, then the source's preference.
    ranking = np.lexsort((-np.asarray(proposal.order, float), share > AVOID_TOLERANCE, ~fits))
    ranking = ranking[allowed[ranking]]  # no canvas above max_pixels
    chosen = distinct_framings(fitted, ranking, max_iou=dedup_iou, k=k)
    return Selected(index=chosen, boxes=fitted[chosen], scores=scores[chosen], fits=fits[chosen],
                    padded=padded[chosen])


def fit_boxes(
    boxes: np.ndarray, aspect: float | None, focus: np.ndarray | None, fit: str, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each ``[N, 4]`` box at ``aspect`` around itself and ``focus``: ``(boxes [N, 4], held [N],
    padded [N])`` — ``held`` False where the box and the focus could not be kept whole."""
    out = boxes.copy()
    held = np.ones(len(boxes), dtype=bool)
    padded = np.zeros(len(boxes), dtype=bool)
    for i in np.nonzero(~_ready(boxes, aspect, focus, width, height))[0]:
        out[i], held[i], padded[i] = _fit_one(boxes[i], aspect, focus, fit, width, height)
    return out, held, padded


def path_boxes(boxes: np.ndarray, aspect: float, image_size: tuple[int, int]) -> np.ndarray:
    """A camera path's crops through the fit and pixels steps: ``boxes`` float ``[N, 4]`` (one per
    video frame, xyxy px) → ``int64 [N, 4]`` at ``aspect``, inside the ``(W, H)`` image, whole
    pixels — the rounding every photo crop gets (boxes of one size stay of one size)."""
    width, height = image_size
    fitted, _, _ = fit_boxes(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), aspect, None, "crop", width, height)
    return B.snap_to_pixels(fitted, width, height, aspect)


def largest_crop_size(image_size: tuple[int, int], aspect: float) -> tuple[int, int]:
    """``(w, h)`` of the largest crop of ``aspect`` (width / height) inside a ``(W, H)`` image, in
    whole pixels as :func:`apply_request` gives it (the ratio exact to 1 px)."""
    width, height = image_size
    box, _ = B.fit_aspect_ratio(np.array([0.0, 0.0, width, height]), aspect, width, height)
    x1, y1, x2, y2 = (int(v) for v in B.snap_to_pixels(box, width, height, aspect))
    return x2 - x1, y2 - y1


def _ready(boxes: np.ndarray, aspect: float | None, focus: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """``[N]`` True where :func:`_fit_one` would return the box ``[N, 4]`` as it is: at the ratio,
    inside the image and holding the focus (most of a composer's candidates) — found in one pass."""
    if aspect is None:
        return np.zeros(len(boxes), dtype=bool)
    holds = np.ones(len(boxes), dtype=bool) if focus is None else (
        (boxes[:, :2] <= focus[:2]).all(axis=-1) & (boxes[:, 2:] >= focus[2:]).all(axis=-1))
    return _has_ratio(boxes, aspect) & ~_leaves_image(boxes, width, height) & holds


def _fit_one(
    box: np.ndarray, aspect: float | None, focus: np.ndarray | None, fit: str, width: int, height: int
) -> tuple[np.ndarray, bool, bool]:
    target = box if focus is None else B.union_box(np.stack([box, focus]))
    if aspect is None:  # free ratio: the box grown to hold the focus, inside the image
        return B.clamp_xyxy(target, width, height), True, False
    as_is = _has_ratio(box, aspect) and np.array_equal(target, box)  # already right (or letterboxed)
    if as_is and not _leaves_image(box, width, height):
        return box, True, False
    fitted, fits = B.fit_aspect_ratio(target, aspect, width, height)
    if fits:
        return fitted, True, False
    if fit == "pad":
        return (box if as_is else letterbox_box(target, aspect, width, height)), True, True
    start = box if _has_ratio(box, aspect) and not _leaves_image(box, width, height) else fitted
    return _shift_to_hold(start, focus, width, height), False, False


def _has_ratio(boxes: np.ndarray, aspect: float) -> np.ndarray:
    """``[...]`` whether each box ``[..., 4]`` has the ratio ``aspect`` (within the tolerance)."""
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return (h > 0) & (np.abs(w / np.where(h > 0, h, 1.0) - aspect) <= RATIO_TOLERANCE * max(aspect, 1.0))


def _leaves_image(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """``[...]`` whether each box ``[..., 4]`` reaches outside the W × H image."""
    return (boxes[..., 0] < 0) | (boxes[..., 1] < 0) | (boxes[..., 2] > width) | (boxes[..., 3] > height)


def _shift_to_hold(box: np.ndarray, focus: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """The box moved (not resized) the least to hold ``focus`` when it is large enough, inside the image."""
    if focus is None:
        return box
    out = box.copy()
    for lo, hi, limit in ((0, 2, width), (1, 3, height)):
        side = box[hi] - box[lo]
        if focus[hi] - focus[lo] <= side:
            start = min(max(box[lo], focus[hi] - side), focus[lo])
            start = min(max(start, 0.0), limit - side)
            out[lo], out[hi] = start, start + side
    return out


def letterbox_box(target: np.ndarray, aspect: float, width: int, height: int) -> np.ndarray:
    """The smallest box of ``aspect`` holding ``target`` ``[4]``: centred on the image along the
    axis where it is longer than the image, inside the image (near the target) along the other."""
    w = max(target[2] - target[0], (target[3] - target[1]) * aspect)
    h = w / aspect
    starts = []
    for side, lo, hi, limit in ((w, target[0], target[2], width), (h, target[1], target[3], height)):
        if side >= limit:
            starts.append((limit - side) / 2)
        else:
            starts.append(min(max((lo + hi) / 2 - side / 2, 0.0), limit - side))
    return np.array([starts[0], starts[1], starts[0] + w, starts[1] + h])


def distinct_framings(boxes: np.ndarray, ranking: np.ndarray, *, max_iou: float, k: int) -> np.ndarray:
    """The one dedup rule: up to ``k`` rows of ``boxes [N, 4]``, taken in ``ranking`` order (row
    indices, best first); each next one overlaps every chosen box by less than ``max_iou`` IoU
    *and* differs from it in area by :data:`FRAMING_STEP`; when that leaves fewer than ``k``, the
    IoU rule alone fills up. Returns ``int [≤ k]`` row indices, best first."""
    ranked = boxes[ranking]
    area = B.box_area(ranked)
    distinct = np.ones(len(ranking), dtype=bool)  # IoU rule and area step
    apart = np.ones(len(ranking), dtype=bool)  # IoU rule only
    chosen: list[int] = []
    while len(chosen) < k and apart.any():
        pool = distinct if distinct.any() else apart
        pos = int(np.argmax(pool))  # the best remaining
        chosen.append(pos)
        overlap = B.box_iou(ranked[pos : pos + 1], ranked)[0] >= max_iou
        step = np.maximum(area, area[pos]) / np.maximum(np.minimum(area, area[pos]), 1e-9)
        apart &= ~overlap
        distinct &= ~overlap & (step >= FRAMING_STEP)
        apart[pos] = distinct[pos] = False
    return np.asarray(ranking, dtype=np.int64)[np.array(sorted(chosen), dtype=np.int64)]


def focus_box(focus: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """The union of the caller's focus boxes ``[F, 4]``, clipped to the image: ``[4]`` or None.

    Raises :class:`RequestError` when a focus box has no area inside the image.
    """
    if len(focus) == 0:
        return None
    return union_inside(focus, width, height)


def union_inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """The union of ``[N ≥ 1, 4]`` boxes clipped to the image; RequestError when one has no area there."""
    clipped = B.clamp_xyxy(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), width, height)
    empty = B.box_area(clipped) <= 0
    if empty.any():
        bad = np.asarray(boxes).reshape(-1, 4)[int(np.flatnonzero(empty)[0])].tolist()
        raise RequestError(
            f"box {bad} has no area inside the {width}x{height} image (after clipping); "
            "region and focus boxes must overlap the image"
        )
    return B.union_box(clipped)


def border_colour(image_rgb: np.ndarray) -> tuple[int, int, int]:
    """Per-channel median colour of the image's outer ring (1 % of the short side, ≥ 1 px).

    ``image_rgb``: uint8 ``[H, W, 3]``. The colour letterbox padding uses, so the padding blends
    with the image's own border.
    """
    arr = np.asarray(image_rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected an RGB image array [H, W, 3], got shape {arr.shape}")
    t = max(1, min(arr.shape[:2]) // 100)
    ring = np.concatenate(
        [arr[:t].reshape(-1, 3), arr[-t:].reshape(-1, 3),
         arr[:, :t].reshape(-1, 3), arr[:, -t:].reshape(-1, 3)]
    )
    return tuple(int(round(float(c))) for c in median(ring, axis=0))  # type: ignore[return-value]


# ---------------------------------------------------------------------- candidate sources


def decoder_proposal(boxes_xyxy_px: np.ndarray, scores: np.ndarray) -> CandidateSource:
    """The trained decoder as a candidate source: its free-ratio boxes ``[N, 4]`` xyxy px (usable
    ones, :func:`promptcrop.boxes.repair_xyxy_px`) and scores ``[N]``, the same for every ratio."""
    proposal = Proposal(boxes=boxes_xyxy_px, scores=scores, aspect=None)
    return lambda aspects: [proposal] * len(aspects)


# ---------------------------------------------------------------------- results


def _label(aspect: AspectRatio, ratio: float | None) -> str:
    """The caller's label; with no ratio asked, ``original`` (the source used the image's own
    ratio) or ``free`` (the decoder's boxes)."""
    if aspect.value is not None:
        return aspect.label
    return ORIGINAL_RATIO if ratio is not None else FREE_RATIO


def _results(
    proposal: Proposal, chosen: Selected, ratio: float | None, label: str, mode: str, request: CropRequest,
    colour: tuple[int, int, int] | None, image_size: tuple[int, int],
) -> list[CropResult]:
    out = []
    snapped = B.snap_to_pixels(chosen.boxes, *image_size, ratio)  # [M, 4] (letterboxes replaced below)
    for rank, (row, box, px, score, fits, padded) in enumerate(
        zip(chosen.index, chosen.boxes, snapped, chosen.scores, chosen.fits, chosen.padded), start=1
    ):
        px = round_letterbox(box, ratio) if padded else px
        out.append(CropResult(
            box=tuple(int(v) for v in px), score=float(score), rank=rank, aspect=ratio, mode=mode,  # type: ignore[arg-type]
            fits=bool(fits), padded=bool(padded), pad_color=colour if padded else None,
            output_size=request.output_size, ratio=label,
            terms={name: float(values[row]) for name, values in proposal.terms.items()} or None,
        ))
    return out


def round_letterbox(box: np.ndarray, aspect: float | None) -> np.ndarray:
    """Integer box ``int64 [4]`` of exact ``aspect`` (to 1 px) around a letterbox ``[4]`` (xyxy px,
    may leave the image), same centre."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(round(x2 - x1), 1), max(round(y2 - y1), 1)
    if aspect:  # the longer side rounded, the shorter derived: the rule of every crop
        w, h = (int(v) for v in B.ratio_sides(np.float64(w), np.float64(h), aspect))
    left, top = round((x1 + x2) / 2 - w / 2), round((y1 + y2) / 2 - h / 2)
    return np.array([left, top, left + w, top + h], dtype=np.int64)


@dataclass(frozen=True)
class Explanation:
    """What explains a prediction besides its crops (filled by the model modes).

    ``query`` / ``query_image``: how the condition was named; ``phrases`` / ``truncated``: the
    phrases embedded and those cut to the text model's length; ``grounding``: one box per phrase;
    ``notes``: what replaced a degenerate model output or could not be done as asked.
    """

    query: str | None = None
    query_image: str | None = None
    phrases: tuple[str, ...] = ()
    truncated: tuple[str, ...] = ()
    grounding: tuple[GroundedBox, ...] = ()
    notes: tuple[str, ...] = ()


def build_prediction(
    crops: Sequence[CropResult],
    *,
    image_size: tuple[int, int],
    mode: str,
    region: np.ndarray | None,
    explanation: Explanation,
    timings: dict[str, float],
    exif_orientation: int,
    versions: dict[str, object],
    faces: np.ndarray | None = None,
) -> Prediction:
    """The one place a :class:`~promptcrop.results.Prediction` is built (``region``: ``[4]``,
    ``faces``: ``[F, 4]``, xyxy px)."""
    return Prediction(
        crops=list(crops), image_size=image_size, mode=mode,
        region=None if region is None else tuple(float(v) for v in np.asarray(region).reshape(4)),  # type: ignore[arg-type]
        faces=() if faces is None else tuple(tuple(float(v) for v in box) for box in np.asarray(faces).reshape(-1, 4)),  # type: ignore[misc]
        query=explanation.query, phrases=explanation.phrases, truncated=explanation.truncated,
        grounding=list(explanation.grounding), query_image=explanation.query_image,
        fallback="; ".join(explanation.notes) or None, timings=dict(timings),
        exif_orientation=exif_orientation, versions=dict(versions),
    )
