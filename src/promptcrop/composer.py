"""Training-free composition: candidate crops around a region that must stay, scored by named rules.

Used by the ``zeroshot`` mode (the region is OWL-ViT's grounded union box) and the ``offline`` mode
(the region is the salient region from :mod:`promptcrop.saliency`). One call handles ONE aspect
ratio; the caller loops over ratios. An exact output size (e.g. 1080x1350) is the aspect
``1080 / 1350`` here plus a resize done by the caller.

Every box is xyxy pixels of the full image (``x2``/``y2`` exclusive, float). The **required
region** is the region united with the user's focus boxes: every returned crop contains it when it
fits at the requested ratio. Candidates are enumerated over scales × positions (vectorised) and
scored by transparent terms, each in [0, 1]. The **subject** a term looks at is the part of the
required region inside the crop: the whole region for crops that hold it, the kept part for partial
crops (a region that cannot fit the ratio), so a partial crop is judged by what it shows.

- ``placement`` — the subject's centre near a rule-of-thirds power point, or near the centre;
- ``subject_size`` — the subject's share of the crop area near :attr:`ComposerConfig.subject_share`;
- ``breathing_room`` — room between the subject and the crop border on its tightest side (a side
  where the subject already touches the image border, or where the crop cuts the region, is not
  held against the crop);
- ``border_simplicity`` — little edge energy or saliency along the crop borders, and no *keep*
  box (another detected object) or face of the saliency map cut through;
- ``content_kept`` — the share of the image's saliency mass inside the crop;
- ``size_prior`` — larger crops are preferred (square root of the crop's share of the largest crop
  of that ratio);
- ``headroom`` — for crops shorter than the region (partial crops): 1 minus the share of the
  region's height cut off at its *top*. A photographer keeps the top of a subject that does not
  fit — heads, faces and horizons sit high — so between crops that keep equally salient content,
  the one holding the region's top wins; a clearly more salient lower part still wins through
  ``content_kept`` (by default the prior weighs half as much as that term).
- ``centred`` — the crop's centre near the middle of the photo (its ``content`` box): a Gaussian
  of the distance in shares of the photo's sides. Its weight grows as the saliency map's evidence
  weakens (:attr:`promptcrop.saliency.SaliencyMap.concentration` falling across
  :data:`WEAK_EVIDENCE`), and it is off when the map singles a subject out clearly or holds a
  face (:func:`evidence_weakness`): when the map cannot say where the subject is, the crop keeps
  more of the middle, where photographers put it.

The total is the weighted mean of the active terms (``border_simplicity`` needs a saliency map or
keep boxes, ``content_kept`` a saliency map, ``headroom`` a crop shorter than the region,
``centred`` a saliency map with weak evidence, its weight scaled by :func:`evidence_weakness`), so
it lies in [0, 1]. In the composer's order, candidates that cut through a face of the saliency map
(:attr:`promptcrop.saliency.SaliencyMap.faces`; only partial crops can), then candidates that
leave a main face out, cut through a keep box or through the estimated head of a person whose face
was not seen (:attr:`~promptcrop.saliency.SaliencyMap.heads`), come below the others whenever some
candidate avoids that.

**A candidate source.** :func:`propose` gives every scored candidate of one ratio as a
:class:`~promptcrop.postprocess.Proposal`; the post-processing (:mod:`promptcrop.postprocess`)
applies the request to it like to the decoder's boxes: avoid boxes, the ``k`` distinct framings,
pixels. :func:`compose` is that path for one ratio, returning the crops with their breakdown.

**Honest ranking.** A crop's score is its composition total times the share of the region it keeps
(and a factor for the faces it leaves out), so a poor crop scores low on any photo, and a crop
keeping far less of the region (:data:`FAR_LESS_KEPT`) than another one never outranks it. The
``k`` crops are distinct *framings*: besides the crops holding the region, tighter crops around the
heart of the subject (:func:`promptcrop.saliency.core_region`: head and shoulders of a person) are
candidates, and each next crop differs from those ranked above it in area
(:data:`promptcrop.postprocess.FRAMING_STEP`), not only in position.

**Frame artefacts.** With a saliency map whose ``content`` box excludes borders, bars, caption
banners or blurred fill (or with explicit ``bounds``), crops stay inside it unless the region cannot
be kept whole there at the requested ratio — or, for blurred fill only, unless crops taking it in
keep clearly more of the region (:data:`FRAME_GIVE_UP`). Corner watermarks and text (``marks``) are left out by every crop
that can leave them out while keeping as much of the region.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from promptcrop import boxes as B
from promptcrop.postprocess import DEDUP_IOU, Proposal, border_colour, select, union_inside
from promptcrop.request import RequestLimits, parse_boxes
from promptcrop.saliency import SaliencyMap, core_region
from promptcrop.validation import (
    require_choice,
    require_non_negative,
    require_number,
    require_positive,
    require_positive_int,
)

PLACEMENTS = ("thirds", "centre", "auto")
FITS = ("crop", "pad")
TERMS = (
    "placement",
    "subject_size",
    "breathing_room",
    "border_simplicity",
    "content_kept",
    "size_prior",
    "headroom",
    "centred",
)
#: Candidate starts along an axis are at least this share of the image's long side apart (≥ 1 px).
MIN_POSITION_STEP = 0.005
#: A box counts as cut through when between this share and 1 minus it lies inside the crop.
CUT_TOLERANCE = 0.02
#: A crop holding more than the first and less than the second share of a face cuts through it
#: (the benchmarks' "faces cut"); outside that band a cut only grazes the face.
CUT_THROUGH = (0.2, 0.8)
#: A crop keeping this much less of the region (share of its area) than the best crop of its tier
#: ranks below every crop that keeps more, whatever their scores.
FAR_LESS_KEPT = 0.25
#: Faces at least this share of the largest face's side must not be left out (smaller ones, in
#: the background, may be; no face may be cut through).
MAIN_FACE_SHARE = 0.5
#: What a crop showing none of the faces is still worth (its score is scaled by this; by this
#: again for none of the people boxes, so a crop showing neither keeps 0.25² of its score).
FACELESS_WORTH = 0.25
#: The region may reach this share of its area outside the frame bounds and still be cropped
#: inside them (the part outside is given up).
FRAME_SLACK = 0.05
#: :func:`compose` on its own puts no pixel limit on letterboxes (the Predictor passes its own).
NO_CANVAS_LIMIT = RequestLimits(max_pixels=2**62)

#: Concentration of the saliency map (share of its mass in its most salient tenth) at and below
#: which its evidence counts as weak (the ``centred`` term at full weight), and from which it is
#: strong (the term off); linear in between.
WEAK_EVIDENCE = (0.25, 0.5)

BoxesLike = np.ndarray | Sequence[Sequence[float]]


@dataclass(frozen=True)
class ComposerConfig:
    """Weights and search settings of the composer (all validated in ``__post_init__``).

    Weights (``*_weight``, ≥ 0, not all zero) scale the named terms of the module docstring.
    ``placement``: ``"thirds"``, ``"centre"`` or ``"auto"`` (thirds while the subject is small in
    the crop, centre when it fills most of it, blended in between). ``num_scales`` crop sizes from
    the smallest crop holding the region (but not below ``min_crop_side`` of the largest crop) to
    the largest crop of the ratio; ``position_steps`` positions per axis and scale.
    ``subject_share``: ideal subject area / crop
    area, with ``subject_share_tolerance`` the spread in log units. ``placement_sigma``: spread
    of the placement term in crop-side units. ``margin``: wanted room around the subject as a
    share of the crop side. ``border_band``: thickness of the border band (share of the crop side)
    read for ``border_simplicity``; a partial crop may also reach ``margin`` × its side beyond the
    region it cannot hold (room above a head). ``centred_sigma``: spread of the ``centred`` term
    in shares of the photo's sides.
    """

    placement_weight: float = 1.0
    subject_size_weight: float = 0.5
    breathing_room_weight: float = 1.0
    border_simplicity_weight: float = 1.0
    content_kept_weight: float = 1.0
    size_prior_weight: float = 2.0
    headroom_weight: float = 0.5
    centred_weight: float = 1.0
    placement: str = "auto"
    num_scales: int = 12
    position_steps: int = 9
    min_crop_side: float = 0.25
    subject_share: float = 0.3
    subject_share_tolerance: float = 0.8
    placement_sigma: float = 0.12
    margin: float = 0.06
    border_band: float = 0.04
    centred_sigma: float = 0.15

    def __post_init__(self) -> None:
        for name in TERMS:
            require_non_negative(f"{name}_weight", getattr(self, f"{name}_weight"))
        if sum(self.weights().values()) <= 0:
            raise ValueError("at least one composer weight must be positive")
        require_choice("placement", self.placement, PLACEMENTS)
        for name in ("num_scales", "position_steps"):
            require_positive_int(name, getattr(self, name))
        for name in ("min_crop_side", "subject_share"):
            require_number(name, getattr(self, name), 0.0, 1.0, low_open=True)
        require_positive("subject_share_tolerance", self.subject_share_tolerance)
        require_positive("placement_sigma", self.placement_sigma)
        require_positive("centred_sigma", self.centred_sigma)
        require_number("margin", self.margin, 0.0, 0.5)
        require_number("border_band", self.border_band, 0.0, 0.5, low_open=True)

    def weights(self) -> dict[str, float]:
        """Term name → weight, for every term in :data:`TERMS`."""
        return {name: float(getattr(self, f"{name}_weight")) for name in TERMS}


@dataclass(frozen=True, eq=False)
class CandidateScores:
    """Scores of ``N`` candidate crops.

    - ``total``: float ``[N]`` in [0, 1], the weighted mean of the active terms.
    - ``terms``: term name → float ``[N]`` in [0, 1], active terms only.
    - ``weights``: term name → weight normalised over the active terms (they sum to 1), so
      ``total == sum(weights[t] * terms[t])``.
    """

    total: np.ndarray
    terms: dict[str, np.ndarray]
    weights: dict[str, float]


@dataclass(frozen=True, eq=False)
class CropCandidate:
    """One composed crop.

    - ``box_xyxy_px``: float ``[4]`` xyxy pixels of the full image, of ratio ``aspect`` exactly.
      Inside the image unless ``padded``; then it extends past the image (letterbox) and the
      outside is to be filled with ``pad_color``.
    - ``score``: total score in [0, 1]; ``terms``: each active term's value in [0, 1];
      ``contributions``: each term's weight-normalised share of ``score`` (they sum to it).
    - ``fits``: False when the required region could not be kept whole at this ratio (then the
      box is the best partial crop); ``region_kept``: share of the required region's area inside
      the box (below 1.0 for a partial crop, or for a tighter alternative framing such as head and
      shoulders of a person). ``score`` is the composition score times ``region_kept`` (times a
      factor falling to :data:`FACELESS_WORTH` as faces of the saliency map are left out, and
      another as its people boxes are).
    """

    box_xyxy_px: np.ndarray
    score: float
    terms: dict[str, float]
    contributions: dict[str, float]
    aspect: float
    fits: bool
    padded: bool
    pad_color: tuple[int, int, int] | None
    region_kept: float


# ---------------------------------------------------------------------------- public API


def propose(
    image_size: tuple[int, int],
    region_xyxy_px: BoxesLike,
    *,
    aspects: Sequence[float],
    saliency: SaliencyMap | None = None,
    keep: BoxesLike = (),
    focus: BoxesLike = (),
    fit: str = "crop",
    config: ComposerConfig | None = None,
    bounds: BoxesLike | None = None,
    marks: BoxesLike = (),
    alternatives: bool = True,
) -> list[Proposal]:
    """The composer as a candidate source (:mod:`promptcrop.postprocess`): for each ratio of
    ``aspects`` (widths / heights > 0), in order, every candidate crop of that ratio around the
    region, scored and ordered, not yet selected. The ratios' candidates are scored in one pass (the
    scoring costs mostly per call, not per candidate, and a photo asks for several ratios at once);
    each proposal is the one that ratio alone gets.

    ``image_size``: ``(W, H)``. ``region_xyxy_px``: ``[4]`` box to keep (clipped to the image;
    RequestError if nothing is left). ``keep``: ``[K, 4]`` other objects not to cut through;
    ``focus``: ``[F, 4]`` boxes that must stay too (united with the region). ``saliency`` enables the border-clutter and content terms, and its ``faces`` are
    kept whole whenever some crop can (a partial crop is never ordered above one that keeps the
    face, and one that cuts through a face comes last). ``fit``: when the region cannot fit the
    ratio inside the image, ``"crop"`` proposes the best partial crops (``fits`` False) and
    ``"pad"`` letterboxed crops that hold it. ``bounds``: ``[4]`` box crops should stay inside
    (default: the saliency map's ``content``, the photo without borders and banners); ignored when
    the region cannot be kept whole inside it at this ratio. ``marks``: ``[M, 4]`` frame marks
    (corner watermarks and text, :func:`promptcrop.saliency.corner_marks`): a crop holding part of
    one is ordered below the crops that leave them out while keeping as much of the region (never
    below a crop that keeps far less of it). ``alternatives``: also propose tighter framings
    around the heart of the subject (never with focus boxes: they say what must stay).
    """
    setting = _setting(image_size, region_xyxy_px, saliency=saliency, keep=keep, focus=focus, fit=fit, config=config,
                       bounds=bounds, alternatives=alternatives)
    found = [_enumerate(setting, aspect) for aspect in aspects]
    return [scored.proposal for scored in _score(found, saliency, marks)] if found else []


def compose(
    image_size: tuple[int, int],
    region_xyxy_px: BoxesLike,
    *,
    aspect: float,
    k: int,
    saliency: SaliencyMap | None = None,
    keep: BoxesLike = (),
    focus: BoxesLike = (),
    avoid: BoxesLike = (),
    fit: str = "crop",
    config: ComposerConfig | None = None,
    image_rgb: np.ndarray | None = None,
    pad_color: tuple[int, int, int] | None = None,
    bounds: BoxesLike | None = None,
    marks: BoxesLike = (),
    dedup_iou: float = DEDUP_IOU,
) -> list[CropCandidate]:
    """The ``k`` best, mutually distinct crops of ratio ``aspect`` that keep the region: the
    composer's :func:`propose` through the one selection of :func:`promptcrop.postprocess.select`
    (the path every mode takes), as :class:`CropCandidate` s with their score breakdown.

    Arguments as in :func:`propose`, and: ``k`` ≥ 1 (ValueError otherwise); fewer crops come back
    when fewer pairwise-distinct candidates (IoU < ``dedup_iou``) exist. ``avoid``: ``[A, 4]``
    boxes to leave out when possible (postprocess's rule). ``fit="pad"`` letterboxes with
    ``pad_color`` or, if not given, :func:`border_colour` of ``image_rgb`` (one of them is needed).
    Returns crops ranked best first (see the module docstring for the honest ranking and the
    distinct framings).
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if fit == "pad" and pad_color is None and image_rgb is None:
        raise ValueError('fit="pad" needs image_rgb (to pick the pad colour) or pad_color')
    require_number("dedup_iou", dedup_iou, 0.0, 1.0, low_open=True)
    found = _enumerate(_setting(image_size, region_xyxy_px, saliency=saliency, keep=keep, focus=focus, fit=fit,
                                config=config, bounds=bounds, alternatives=k > 1), aspect)
    scored = _score([found], saliency, marks)[0]
    chosen = select(scored.proposal, found.aspect, focus=None, avoid=_as_boxes(avoid, "avoid"), fit=fit,
                    k=int(k), image_size=found.size, limits=NO_CANVAS_LIMIT, dedup_iou=dedup_iou)
    colour = None if not chosen.padded.any() else (pad_color or border_colour(image_rgb))
    return [
        _candidate(box, scored, int(i), found.aspect, bool(fits), bool(padded), colour if padded else None,
                   float(score))
        for i, box, fits, padded, score in zip(chosen.index, chosen.boxes, chosen.fits, chosen.padded, chosen.scores)
    ]


@dataclass(frozen=True, eq=False)
class _Found:
    """Enumerated candidates of one ratio: ``crops [N, 4]``, whether the region fits, the region."""

    size: tuple[int, int]
    aspect: float
    region: np.ndarray
    crops: np.ndarray
    fits: bool
    config: ComposerConfig
    keep: np.ndarray


@dataclass(frozen=True, eq=False)
class _Scored:
    """Scored candidates: the proposal and what :class:`CropCandidate` reports (kept, worth)."""

    proposal: Proposal
    scores: CandidateScores
    region: np.ndarray


@dataclass(frozen=True, eq=False)
class _Setting:
    """What the candidates of every ratio share (:func:`_setting`): the image ``size``, the
    ``region`` ``[4]`` (with the focus boxes), the ``frame`` ``[4]`` crops stay in and the ``full``
    image box, the parsed ``focus`` and ``keep`` boxes ``[F, 4]`` / ``[K, 4]``, and the options."""

    size: tuple[int, int]
    region: np.ndarray
    frame: np.ndarray
    full: np.ndarray
    focus: np.ndarray
    keep: np.ndarray
    config: ComposerConfig
    fit: str
    from_fill: bool
    saliency: SaliencyMap | None
    alternatives: bool


def _setting(
    image_size: tuple[int, int], region_xyxy_px: BoxesLike, *, saliency: SaliencyMap | None, keep: BoxesLike,
    focus: BoxesLike, fit: str, config: ComposerConfig | None, bounds: BoxesLike | None, alternatives: bool,
) -> _Setting:
    """The arguments of :func:`propose` checked, and what does not depend on the ratio."""
    width, height = _check_image_size(image_size)
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    focus_boxes = _as_boxes(focus, "focus")
    region = required_region(region_xyxy_px, focus_boxes, width, height)
    from_fill = bool(bounds is None and saliency is not None and saliency.fill)
    if bounds is None and saliency is not None:
        bounds = saliency.content
    frame = _frame(bounds, region, width, height) if fit == "crop" else np.array([0, 0, width, height], float)
    return _Setting((width, height), region, frame, np.array([0.0, 0.0, width, height]), focus_boxes,
                    _as_boxes(keep, "keep"), config or ComposerConfig(), fit, from_fill, saliency, alternatives)


def _enumerate(setting: _Setting, aspect: float) -> _Found:
    """The candidate crops of one ratio (width / height)."""
    aspect = _check_aspect(aspect)
    (width, height), region, frame, full = setting.size, setting.region, setting.frame, setting.full
    config, fit, saliency = setting.config, setting.fit, setting.saliency
    crops, fits = _candidates_in(frame, region, aspect, config, pad=fit == "pad")
    if not fits and not np.array_equal(frame, full):
        # A banner or bar is given up only when the region cannot be kept whole without it; blurred
        # fill also when crops taking it in keep clearly more of the region (a subject wider than
        # the ratio allows inside it, a video crop's fixed size).
        wider, wider_fits = _candidates_in(full, region, aspect, config, pad=False)
        if wider_fits or (setting.from_fill and _most_kept(crops, region) < FRAME_GIVE_UP * _most_kept(wider, region)):
            crops, fits = wider, wider_fits
    if not fits and fit == "crop" and saliency is not None and not len(setting.focus):
        # Crops shorter or narrower than the region slide along it: make sure one holds each face.
        crops = np.concatenate([crops, _on_faces(crops, saliency.faces, saliency.face_cores, frame, full)])
        # ... and, for a size whose every crop cuts through a face, the positions that cut none.
        crops = np.concatenate([crops, _clear_of_faces(crops, saliency.faces, saliency.face_cores, region, frame)])
    if setting.alternatives and fit == "crop" and saliency is not None and not len(setting.focus):
        # Tighter framings (head and shoulders, the heart of the subject): crops holding the core.
        core = B.clamp_xyxy(core_region(saliency), width, height)
        if B.box_area(B.clamp_xyxy(core - np.tile(frame[:2], 2), *(frame[2:] - frame[:2]))) > 0:
            tighter, _ = _candidates_in(frame, core, aspect, config, pad=False)
            crops = np.concatenate([crops, tighter])
    return _Found(setting.size, aspect, region, crops, fits or fit == "pad", config, setting.keep)


def _on_faces(crops: np.ndarray, heads: np.ndarray, cores: np.ndarray, frame: np.ndarray,
              image: np.ndarray) -> np.ndarray:
    """For each size among ``crops`` ``[N, 4]`` and each main face (:func:`_main_faces`) that no
    crop of that size holds as fully as it can (head and core, :func:`held_share`), a crop of that
    size on the face, moved into ``frame`` ``[4]`` along each axis it fits in, else into ``image``
    ``[4]`` (the whole image: the crops of a photo in blurred fill may reach into it): ``[C, 4]``
    xyxy px. Across, centred on the head (``heads`` ``[F, 4]``); down, centred on the head when the
    crop is taller than it, else ending at the chin margin (the face's core, ``cores`` ``[F, 4]``:
    :attr:`SaliencyMap.face_cores`), so it holds the face and as much of the hair as fits. The
    sampled positions of crops that slide along a region larger than them are spaced by a share of
    the room, and may all miss the narrow window where a crop holds both the face and as much of
    its head as it can."""
    if not len(heads) or not len(crops):
        return np.zeros((0, 4))
    main = _main_faces(heads)
    heads, cores = heads[main], cores[main]
    sizes, size_of = _crop_sizes(crops)
    held = np.minimum(held_share(crops, heads), held_share(crops, cores)) >= 1.0 - CUT_TOLERANCE  # [N, M]
    of_size = size_of[:, None] == np.arange(len(sizes))[None]  # [N, S]
    missed = ~(held[:, :, None] & of_size[:, None, :]).any(axis=0)  # [M, S] no crop of that size holds it
    w, h = sizes[None, :, 0], sizes[None, :, 1]  # [1, S]
    x0 = (heads[:, 0:1] + heads[:, 2:3] - w) / 2  # [M, S]
    head_h = heads[:, 3:4] - heads[:, 1:2]
    y0 = np.where(h >= head_h, (heads[:, 1:2] + heads[:, 3:4] - h) / 2, cores[:, 3:4] - h)
    inside = sizes <= (frame[2:] - frame[:2])  # [S, 2] the sizes that fit in the frame, per axis
    bounds = np.where(inside[None], frame[None, None, :2], image[None, None, :2])
    last = np.where(inside[None], frame[None, None, 2:], image[None, None, 2:]) - sizes[None]
    low = np.clip(np.stack([x0, y0], axis=-1), bounds, np.maximum(bounds, last))  # [M, S, 2]
    return np.concatenate([low, low + sizes[None]], axis=-1)[missed]


def _clear_of_faces(crops: np.ndarray, heads: np.ndarray, cores: np.ndarray, region: np.ndarray,
                    frame: np.ndarray) -> np.ndarray:
    """For each size among ``crops`` ``[N, 4]`` of which every crop cuts through a face (its head
    box ``heads`` ``[F, 4]`` or its core ``cores`` ``[F, 4]``, :func:`_constraint_tier`) and which
    spans ``frame`` ``[4]`` along one axis, crops of that size that cut none: one in each interval
    of positions along the other axis where every face is held as fully as the crop can or left
    out, the nearest to centring ``region`` ``[4]`` (xyxy px). Several faces side by side leave
    windows narrower than the spacing of the sampled positions (three people, a square crop that
    holds two of them): ``[C, 4]`` xyxy px."""
    if not len(heads) or not len(crops):
        return np.zeros((0, 4))
    boxes = np.concatenate([heads, cores])
    cuts = _cut(held_share(crops, boxes))  # [N]
    sizes, size_of = _crop_sizes(crops)
    span = frame[2:] - frame[:2]
    found = []
    for index, size in enumerate(sizes):
        mine = np.flatnonzero(size_of == index)
        if not cuts[mine].all():
            continue
        for axis in (0, 1):
            other = 1 - axis
            if size[other] < span[other] - 1e-6 or size[axis] >= span[axis] - 1e-6:
                continue  # the crop slides in both directions, or in none along this axis
            centred = (region[axis] + region[axis + 2] - size[axis]) / 2
            for start in _starts_clear_of(boxes[:, [axis, axis + 2]], size[axis], frame[axis],
                                          frame[axis + 2] - size[axis], centred):
                crop = crops[mine[0]].copy()
                crop[[axis, axis + 2]] = start, start + size[axis]
                found.append(crop)
    return np.array(found).reshape(-1, 4)


def _crop_sizes(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct sizes of ``crops`` ``[N, 4]`` (xyxy px), ``[S, 2]`` W, H rounded to 1e-6 px and
    sorted, and the index of each crop's size among them, ``[N]``."""
    sizes, size_of = np.unique(np.round(crops[:, 2:] - crops[:, :2], 6), axis=0, return_inverse=True)
    return sizes, size_of.reshape(-1)


def _starts_clear_of(spans: np.ndarray, length: float, low: float, high: float, preferred: float) -> list[float]:
    """Starts in ``[low, high]`` of a segment of ``length`` that cuts none of ``spans`` ``[F, 2]``
    (each held as fully as the segment can, or left out, within half of :data:`CUT_TOLERANCE`):
    in each interval of such starts, the one nearest ``preferred``."""
    intervals = [(low, high)]
    for a, b in spans:
        tol = 0.5 * CUT_TOLERANCE * min(length, b - a)
        held = (b - length - tol, a + tol) if length >= b - a else (a - tol, b - length + tol)
        allowed = [(-np.inf, a + tol - length), held, (b - tol, np.inf)]
        intervals = [(max(lo, a_lo), min(hi, a_hi)) for lo, hi in intervals for a_lo, a_hi in allowed
                     if max(lo, a_lo) <= min(hi, a_hi)]
    return [float(np.clip(preferred, lo, hi)) for lo, hi in intervals]


def _score(found: Sequence[_Found], saliency: SaliencyMap | None, marks: BoxesLike) -> list[_Scored]:
    """Composition scores, honest worth and the composer's order of each of ``found``'s candidates
    (the ratios of one region, scored in one pass: every value is each candidate's own, and the
    ranking rules compare candidates of one ratio only)."""
    first = found[0]
    crops, keep_boxes, region = np.concatenate([f.crops for f in found]), first.keep, first.region
    counts = [len(f.crops) for f in found]
    faces = saliency.faces if saliency is not None else np.zeros((0, 4))
    people = saliency.people if saliency is not None else np.zeros((0, 4))
    heads = saliency.heads if saliency is not None else np.zeros((0, 4))
    cores = saliency.face_cores if saliency is not None else faces
    scores = _score_groups(crops, counts, image_size=first.size, region=region, saliency=saliency,
                           keep=keep_boxes, config=first.config)
    kept = B.box_coverage(crops, region[None])[:, 0]  # [N] share of the region inside each crop
    # Honest scores: a crop is worth what it keeps of the region and of the faces and people in
    # it, so a poor crop scores low on any photo, and a crop that cannot keep the whole region
    # keeps its people before the rest of it.
    worth = kept * _people_kept(crops, faces) * _people_kept(crops, people)
    tier = _constraint_tier(crops, keep_boxes, faces, heads, cores)  # [N] 0 = best
    # A crop keeping far less of the region than another crop of the same tier (and ratio) never
    # outranks it.
    group = np.repeat(np.arange(len(found)), counts)
    levels, level_of = np.unique(group * (int(tier.max(initial=0)) + 1) + tier, return_inverse=True)
    level_of = level_of.reshape(-1)  # [N] each crop's (ratio, tier)
    best_kept = np.full(len(levels), -np.inf)
    np.maximum.at(best_kept, level_of, kept)
    tier = 2 * tier + (kept < best_kept[level_of] - FAR_LESS_KEPT)
    mark_boxes = _as_boxes(marks, "marks")
    if len(mark_boxes):  # the least of the constraints: below keeping the region and the faces
        tier = 2 * tier + (B.box_coverage(crops, mark_boxes) > CUT_TOLERANCE).any(axis=-1)
    holds_region = kept >= 1.0 - 1e-9
    out = []
    for f, rows, own in zip(found, _group_rows(counts), scores):
        total = own.total * worth[rows]
        # Scores are in [0, 1], so subtracting the tier orders every lower tier below every higher one.
        proposal = Proposal(boxes=f.crops, scores=total, aspect=f.aspect, order=total - tier[rows],
                            fits=holds_region[rows] if not f.fits else np.ones(len(f.crops), dtype=bool),
                            terms=own.terms)
        out.append(_Scored(proposal, own, region))
    return out


def _group_rows(counts: Sequence[int]) -> list[slice]:
    """The rows of consecutive groups of ``counts`` rows each."""
    ends = np.cumsum(counts)
    return [slice(int(end - count), int(end)) for count, end in zip(counts, ends)]


def _people_kept(crops: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``[N]`` in [:data:`FACELESS_WORTH`, 1] for face or person boxes ``[F, 4]``: 1 when every box
    is inside the crop, falling linearly with the share of their total area left out (a large face
    or person counts more)."""
    if len(boxes) == 0:
        return np.ones(len(crops))
    area = B.box_area(boxes)
    if area.sum() <= 0:  # only degenerate boxes: nothing to weigh them by
        return np.ones(len(crops))
    inside = B.box_coverage(crops, boxes) @ (area / area.sum())  # [N] area-weighted
    return FACELESS_WORTH + (1.0 - FACELESS_WORTH) * inside


def _main_faces(faces: np.ndarray) -> np.ndarray:
    """``[F]`` bool: faces whose side is at least :data:`MAIN_FACE_SHARE` of the largest face's."""
    side = np.sqrt(B.box_area(faces))
    return side >= MAIN_FACE_SHARE * side.max()


def _frame(bounds: BoxesLike | None, region: np.ndarray, width: int, height: int) -> np.ndarray:
    """Where crops may lie: ``bounds`` (whole px, clipped to the image) when the region lies
    inside it (up to :data:`FRAME_SLACK` of its area), else the whole image."""
    full = np.array([0.0, 0.0, float(width), float(height)])
    if bounds is None:
        return full
    box = B.clamp_xyxy(np.round(np.asarray(bounds, dtype=np.float64).reshape(4)), width, height)
    if (box[2:] - box[:2] < 1).any():
        return full
    inside = B.box_coverage(box[None], region[None])[0, 0]
    return box if inside >= 1 - FRAME_SLACK else full


#: Crops inside blurred fill that keep less than this share of the region the whole image's crops
#: can keep give way to those (a video crop's fixed size, a subject wider than the ratio allows).
#: Bars and banners give way only to keep the region whole: a bar inside a photo crop is worse than
#: a smaller crop.
FRAME_GIVE_UP = 0.9


def _most_kept(crops: np.ndarray, region: np.ndarray) -> float:
    """The largest area of ``region`` ``[4]`` any of ``crops`` ``[N, 4]`` (xyxy px) holds."""
    return float(B.box_area(kept_subject(crops, region)).max()) if len(crops) else 0.0


def _candidates_in(
    frame: np.ndarray, region: np.ndarray, aspect: float, config: ComposerConfig, *, pad: bool
) -> tuple[np.ndarray, bool]:
    """:func:`enumerate_candidates` inside the ``frame`` box ``[4]`` (whole px) → full-image px."""
    offset = np.tile(frame[:2], 2)
    inner = B.clamp_xyxy(region - offset, frame[2] - frame[0], frame[3] - frame[1])
    size = (int(frame[2] - frame[0]), int(frame[3] - frame[1]))
    crops, fits = enumerate_candidates(size, inner, aspect, config, pad=pad)
    return crops + offset, fits


def score_candidates(
    crops_xyxy_px: np.ndarray,
    *,
    image_size: tuple[int, int],
    region_xyxy_px: np.ndarray,
    saliency: SaliencyMap | None = None,
    keep: BoxesLike = (),
    config: ComposerConfig | None = None,
) -> CandidateScores:
    """Score ``[N, 4]`` candidate crops (xyxy px) around the required region ``[4]``, vectorised.

    ``keep`` ``[K, 4]`` and ``avoid`` ``[A, 4]`` as in :func:`compose`. Returns
    :class:`CandidateScores` (total ``[N]`` and one ``[N]`` array per active term).
    """
    crops = np.asarray(crops_xyxy_px, dtype=np.float64).reshape(-1, 4)
    return _score_groups(crops, [len(crops)], image_size=image_size,
                         region=np.asarray(region_xyxy_px, dtype=np.float64).reshape(4), saliency=saliency,
                         keep=_as_boxes(keep, "keep"), config=config)[0]


def _score_groups(
    crops: np.ndarray, counts: Sequence[int], *, image_size: tuple[int, int], region: np.ndarray,
    saliency: SaliencyMap | None, keep: np.ndarray, config: ComposerConfig | None,
) -> list[CandidateScores]:
    """:func:`score_candidates` of consecutive groups of ``crops`` ``[N, 4]`` (``counts`` rows each),
    computed in one pass: each group's scores are those it would get alone (the headroom term is
    active or not per group, and the weights with it)."""
    config = config or ComposerConfig()
    width, height = _check_image_size(image_size)
    subject = kept_subject(crops, region)  # [N, 4]
    terms: dict[str, np.ndarray | None] = {
        "placement": _placement_term(crops, subject, config),
        "subject_size": _subject_size_term(crops, subject, config),
        "breathing_room": _breathing_term(crops, subject, region, width, height, config.margin,
                                          heads=None if saliency is None else saliency.faces),
        "border_simplicity": _border_term(crops, saliency, keep, config.border_band),
        "content_kept": None if saliency is None else saliency.region_mass(crops),
        "size_prior": _size_prior_term(crops, width, height),
        "headroom": _headroom_term(crops, region),
        "centred": _centred_term(crops, saliency, config),
    }
    clipped = {name: np.clip(v, 0.0, 1.0) for name, v in terms.items() if v is not None}
    raw = config.weights()
    if saliency is not None:
        raw["centred"] *= evidence_weakness(saliency)
    out = []
    for rows in _group_rows(counts):
        active = {name: values[rows] for name, values in clipped.items()
                  if name != "headroom" or _shorter_than(crops[rows], region)}
        weight_sum = sum(raw[name] for name in active)
        if weight_sum <= 0:
            raise ValueError(f"all active composer terms {sorted(active)} have weight 0")
        weights = {name: raw[name] / weight_sum for name in active}
        total = np.zeros(rows.stop - rows.start)
        for name, values in active.items():
            total += weights[name] * values
        out.append(CandidateScores(total=np.clip(total, 0.0, 1.0), terms=active, weights=weights))
    return out


def enumerate_candidates(
    image_size: tuple[int, int],
    region_xyxy_px: np.ndarray,
    aspect: float,
    config: ComposerConfig | None = None,
    *,
    pad: bool = False,
) -> tuple[np.ndarray, bool]:
    """Candidate crops of ratio ``aspect`` around the required region: ``(crops [N, 4], fits)``.

    ``fits`` is whether a crop of this ratio inside the image can hold the region. If it can,
    ``config.num_scales`` widths from the smallest holding crop (at least ``min_crop_side`` of
    the largest crop) to the largest crop, each at ``position_steps`` × ``position_steps``
    positions that keep the region. If it cannot: with ``pad`` the crops hold the region and
    extend past the image along the axis that is too short, the image centred on that axis; without
    ``pad`` only the largest crop of the ratio, slid along the region (from ``config.margin`` × its
    side before the region's start to as far after its end). Positions closer than
    :data:`MIN_POSITION_STEP` of the image are not repeated. Rows are ordered by scale, then x,
    then y.
    """
    config = config or ComposerConfig()
    width, height = _check_image_size(image_size)
    region = np.asarray(region_xyxy_px, dtype=np.float64).reshape(4)
    rw, rh = region[2] - region[0], region[3] - region[1]
    largest_w = min(width, height * aspect)  # widest crop of this ratio inside the image
    needed_w = max(rw, rh * aspect)  # narrowest crop of this ratio holding the region
    fits = bool(needed_w <= largest_w * (1 + 1e-9))
    if fits:
        low = min(max(needed_w, config.min_crop_side * largest_w), largest_w)
        crop_w = np.geomspace(low, largest_w, config.num_scales)
    elif pad:
        crop_w = np.geomspace(needed_w, max(width, height * aspect), config.num_scales)
    else:
        crop_w = np.array([largest_w])
    crop_h = crop_w / aspect
    steps = config.position_steps
    min_step = max(1.0, MIN_POSITION_STEP * max(width, height))
    slide = config.margin  # how far a partial crop may reach past the region it cannot hold
    xs, x_used = _axis_positions(crop_w, region[0], region[2], width, steps, min_step, slide)  # [S, P]
    ys, y_used = _axis_positions(crop_h, region[1], region[3], height, steps, min_step, slide)
    used = x_used[:, :, None] & y_used[:, None, :]  # [S, P, P]
    x1 = np.broadcast_to(xs[:, :, None], used.shape)[used]  # [N]
    y1 = np.broadcast_to(ys[:, None, :], used.shape)[used]
    cw = np.broadcast_to(crop_w[:, None, None], used.shape)[used]
    ch = np.broadcast_to(crop_h[:, None, None], used.shape)[used]
    return np.stack([x1, y1, x1 + cw, y1 + ch], axis=-1), fits


def required_region(
    region_xyxy_px: BoxesLike, focus: BoxesLike, width: int, height: int
) -> np.ndarray:
    """The region united with the focus boxes, clipped to the image: float ``[4]`` xyxy px.

    Raises RequestError (a ValueError) when the region or a focus box has no area inside the
    image: model-made regions are repaired before they get here, so this is the caller's box.
    """
    region = _as_boxes(region_xyxy_px, "region")
    if len(region) != 1:
        raise ValueError(f"region must be one box [x1, y1, x2, y2], got {len(region)} boxes")
    return union_inside(np.concatenate([region, _as_boxes(focus, "focus")]), width, height)


def kept_subject(crops_xyxy_px: np.ndarray, region_xyxy_px: np.ndarray) -> np.ndarray:
    """The part of the region inside each crop: ``[N, 4]`` crops, ``[4]`` region → ``[N, 4]`` xyxy px.

    The region itself for crops that hold it; a crop that misses it gets an empty box at its edge.
    """
    crops = np.asarray(crops_xyxy_px, dtype=np.float64).reshape(-1, 4)
    region = np.asarray(region_xyxy_px, dtype=np.float64).reshape(4)
    low = np.maximum(crops[:, :2], region[:2])
    high = np.maximum(np.minimum(crops[:, 2:], region[2:]), low)
    return np.concatenate([low, high], axis=-1)


# ---------------------------------------------------------------------------- scoring terms


def _placement_term(crops: np.ndarray, subject: np.ndarray, config: ComposerConfig) -> np.ndarray:
    """Gaussian of the distance from the subject centre to the placement target(s) → ``[N]``.

    ``subject``: ``[N, 4]``, one subject box per crop (see :func:`kept_subject`).
    """
    cw, ch = crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]
    u = ((subject[:, 0] + subject[:, 2]) / 2 - crops[:, 0]) / cw  # subject centre in crop units
    v = ((subject[:, 1] + subject[:, 3]) / 2 - crops[:, 1]) / ch
    two_var = 2 * config.placement_sigma**2
    # The nearest power point minimises each axis separately.
    to_third = np.minimum(np.abs(u - 1 / 3), np.abs(u - 2 / 3)) ** 2 + np.minimum(
        np.abs(v - 1 / 3), np.abs(v - 2 / 3)
    ) ** 2
    thirds = np.exp(-to_third / two_var)
    centre = np.exp(-((u - 0.5) ** 2 + (v - 0.5) ** 2) / two_var)
    if config.placement == "thirds":
        return thirds
    if config.placement == "centre":
        return centre
    # auto: a subject filling most of the crop cannot sit on a third; blend 40 % → 70 % of the side.
    fill = np.maximum((subject[:, 2] - subject[:, 0]) / cw, (subject[:, 3] - subject[:, 1]) / ch)
    t = np.clip((fill - 0.4) / 0.3, 0.0, 1.0)
    return (1 - t) * thirds + t * centre


def _subject_size_term(crops: np.ndarray, subject: np.ndarray, config: ComposerConfig) -> np.ndarray:
    """Log-Gaussian of the subject's (``[N, 4]``) share of the crop area around ``subject_share``
    → ``[N]``."""
    share = B.box_area(subject) / np.maximum(B.box_area(crops), 1e-9)
    log_ratio = np.log(np.maximum(share, 1e-9) / config.subject_share)
    return np.exp(-(log_ratio**2) / (2 * config.subject_share_tolerance**2))


def _breathing_term(
    crops: np.ndarray, subject: np.ndarray, region: np.ndarray, width: int, height: int, margin: float,
    heads: np.ndarray | None = None,
) -> np.ndarray:
    """Room around the subject (``[N, 4]``) on its tightest side, relative to what is wanted
    there → ``[N]``.

    Wanted on each side: ``margin`` × the crop side, but never more than the image offers
    between the region and the image border (a subject touching the border wants nothing there),
    nothing on a side where the crop cuts through the region (``[4]``), and — for every crop —
    nothing above it when the region's top is the top of a head box (``heads`` ``[F, 4]`` xyxy px:
    a head box holds its headroom).
    """
    cw, ch = crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]
    have = np.concatenate([subject[:, :2] - crops[:, :2], crops[:, 2:] - subject[:, 2:]], axis=-1)
    # [N, 4] left, top, right, bottom
    room = np.array([region[0], region[1], width - region[2], height - region[3]])  # [4]
    cut = np.concatenate([crops[:, :2] > region[:2], crops[:, 2:] < region[2:]], axis=-1)  # [N, 4]
    want = np.where(cut, 0.0, np.minimum(margin * np.stack([cw, ch, cw, ch], axis=-1), room))
    if heads is not None and len(heads) and np.abs(heads[:, 1] - region[1]).min() <= 1.0:
        want[:, 1] = 0.0  # room above a head is in its head box
    side = np.where(want > 1e-9, np.clip(have, 0.0, None) / np.maximum(want, 1e-9), 1.0)
    return np.clip(side, 0.0, 1.0).min(axis=-1)


def _border_term(
    crops: np.ndarray, saliency: SaliencyMap | None, keep: np.ndarray, band: float
) -> np.ndarray | None:
    """(1 − clutter along the border) × (1 − worst cut of a keep box or face) → ``[N]``; None if
    neither known."""
    if saliency is None and len(keep) == 0:
        return None
    term = np.ones(len(crops))
    if saliency is not None:
        term *= 1.0 - saliency.edge_energy_along(crops, band=band)
        keep = np.concatenate([keep, saliency.faces])
    if len(keep):
        # the plain share of each box inside, also for a face wider than the crop (the tiers use
        # held_share): held_share here was tried and moved a close-up's 9:16 crop off the face on
        # the real-photo benchmark's check half
        inside = B.box_coverage(crops, keep)  # [N, K]
        cut = (4.0 * inside * (1.0 - inside)).max(axis=-1)  # 1 when half of a box is cut off
        term *= 1.0 - cut
    return term


def evidence_weakness(saliency: SaliencyMap) -> float:
    """How little the map says where the subject is, in [0, 1]: 0 when it holds faces (a face
    found is a subject found, however diffuse the rest of the map), else 1 at a concentration up
    to ``WEAK_EVIDENCE[0]``, 0 from ``WEAK_EVIDENCE[1]``, linear in between."""
    if len(saliency.faces):
        return 0.0
    low, high = WEAK_EVIDENCE
    return float(np.clip((high - saliency.concentration) / (high - low), 0.0, 1.0))


def _centred_term(crops: np.ndarray, saliency: SaliencyMap | None, config: ComposerConfig) -> np.ndarray | None:
    """Gaussian (``config.centred_sigma``) of the distance between each crop's centre and the
    middle of the saliency map's ``content`` box, in shares of its sides → ``[N]``; None without a
    map, with ``centred_weight`` 0 or when the map's evidence is strong (:func:`evidence_weakness`
    0): the term would have no weight."""
    if saliency is None or config.centred_weight <= 0 or evidence_weakness(saliency) <= 0:
        return None
    sigma = config.centred_sigma
    content = saliency.content
    size = content[2:] - content[:2]
    offset = ((crops[:, :2] + crops[:, 2:]) - (content[:2] + content[2:])) / 2 / size  # [N, 2]
    return np.exp(-(offset**2).sum(axis=-1) / (2 * sigma**2))


def _size_prior_term(crops: np.ndarray, width: int, height: int) -> np.ndarray:
    """Square root of the crop's area share of the largest crop of its ratio (≤ 1) → ``[N]``."""
    cw, ch = crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]
    largest_w = np.minimum(width, height * cw / ch)
    largest_area = largest_w * largest_w * ch / cw
    return np.sqrt(np.clip(cw * ch / largest_area, 0.0, 1.0))


def _headroom_term(crops: np.ndarray, region: np.ndarray) -> np.ndarray | None:
    """1 − the share of the region's height cut off above each crop → ``[N]``; None when every
    crop is at least as tall as the region (nothing has to go, so nothing to prefer).

    A crop flush with the region's top (or above it) scores 1; one that drops a quarter of the
    region from the top scores 0.75.
    """
    if not _shorter_than(crops, region):
        return None
    region_h = region[3] - region[1]
    top_cut = np.clip(crops[:, 1] - region[1], 0.0, region_h)
    return 1.0 - top_cut / max(region_h, 1e-9)


def _shorter_than(crops: np.ndarray, region: np.ndarray) -> bool:
    """Whether some crop ``[N, 4]`` is shorter than the region ``[4]`` (the headroom term's condition)."""
    return bool(((crops[:, 3] - crops[:, 1]) < (region[3] - region[1]) * (1 - 1e-9)).any())


# ---------------------------------------------------------------------------- helpers


def held_share(crops: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``[N, F]``: the share of each box ``[F, 4]`` inside each crop ``[N, 4]`` (xyxy px), as a share
    of the most a crop of that size can hold of it — 1 for a face bigger than the crop that the
    crop holds as fully as it can (a close-up at a narrow ratio: kept as well as the ratio allows,
    not "cut" whatever the crop does)."""
    crop_w, crop_h = (crops[:, 2] - crops[:, 0])[:, None], (crops[:, 3] - crops[:, 1])[:, None]
    box_w, box_h = (boxes[:, 2] - boxes[:, 0])[None], (boxes[:, 3] - boxes[:, 1])[None]
    most = np.minimum(1.0, crop_w / np.maximum(box_w, 1e-9)) * np.minimum(1.0, crop_h / np.maximum(box_h, 1e-9))
    return np.clip(B.box_coverage(crops, boxes) / np.maximum(most, 1e-9), 0.0, 1.0)


def _constraint_tier(crops: np.ndarray, keep: np.ndarray, faces: np.ndarray, heads: np.ndarray,
                     cores: np.ndarray) -> np.ndarray:
    """``[N]`` int: 0 for crops that hold every face whole, cut no keep box and no head of a person
    whose face was not seen (``heads``, estimated: :attr:`SaliencyMap.heads`). A face is held
    whole when its head box and the face inside it (``cores``, one per face:
    :attr:`SaliencyMap.face_cores`) are each held as fully as the crop's size allows
    (:func:`held_share`), so a crop too short for a head cuts its hair rather than its chin.
    Cutting through a face adds 2; leaving out a main face (:func:`_main_faces`), cutting a keep
    box or such a head adds 1. Tiers nobody reaches do not matter. (Avoid boxes are the
    post-processing's: one rule for every mode.) The tier is returned doubled, plus 1 for a crop
    that holds :data:`CUT_THROUGH` of some face or its core: where every crop of a tier cuts a
    face, one that only grazes a face at its edge ranks first."""
    tier = np.zeros(len(crops), dtype=np.int64)
    through = np.zeros(len(crops), dtype=bool)
    if len(faces):
        inside, core_inside = held_share(crops, faces), held_share(crops, cores)  # [N, F] each
        tier += 2 * (_cut(inside) | _cut(core_inside))
        main = _main_faces(faces)  # a small face in the background may be left out
        tier += (inside[:, main] <= CUT_TOLERANCE).any(axis=-1)
        through = _cut_through(inside) | _cut_through(core_inside)
    if len(keep):
        tier += _cut(B.box_coverage(crops, keep))
    if len(heads):
        tier += _cut(held_share(crops, heads))
    return 2 * tier + through


def _cut_through(inside: np.ndarray) -> np.ndarray:
    """``[N]`` bool: some box is held between :data:`CUT_THROUGH` of it, from the share ``[N, M]``
    of each box inside each crop: half a face, not a sliver of one at the crop's edge."""
    return ((inside > CUT_THROUGH[0]) & (inside < CUT_THROUGH[1])).any(axis=-1)


def _cut(inside: np.ndarray) -> np.ndarray:
    """``[N]`` bool: some box is cut through, from the share ``[N, M]`` of each box inside each crop."""
    return ((inside > CUT_TOLERANCE) & (inside < 1 - CUT_TOLERANCE)).any(axis=-1)


def _axis_positions(
    crop_len: np.ndarray,
    region_lo: float,
    region_hi: float,
    image_len: int,
    steps: int,
    min_step: float,
    slide: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Start coordinates of crops of lengths ``[S]`` along one axis: ``(starts [S, steps],
    used [S, steps] bool)``.

    Keeps the region inside the crop and the crop inside the image; a crop shorter than the region
    slides along the region's span, reaching ``slide`` × its length past either end (partial crop);
    a crop longer than the image is centred on it.
    A scale uses at most ``steps`` evenly spaced starts, fewer when the range is short, so that
    starts are at least ``min_step`` px apart (a collapsed range gives one start).
    """
    partial = crop_len < (region_hi - region_lo) * (1 - 1e-9)
    reach = np.where(partial, slide * crop_len, 0.0)
    low = np.maximum(0.0, np.where(partial, region_lo, region_hi - crop_len) - reach)
    high = np.minimum(np.where(partial, region_hi - crop_len, region_lo) + reach, image_len - crop_len)
    low, high = np.minimum(low, high), np.maximum(low, high)
    centred = (image_len - crop_len) / 2
    overflow = crop_len > image_len
    low, high = np.where(overflow, centred, low), np.where(overflow, centred, high)
    count = np.clip(np.floor((high - low) / min_step) + 1, 1, steps).astype(np.int64)  # [S]
    index = np.arange(steps)
    t = index[None, :] / np.maximum(count - 1, 1)[:, None]  # [S, steps]
    return low[:, None] + (high - low)[:, None] * t, index[None, :] < count[:, None]


def _candidate(
    crop: np.ndarray,
    scored: _Scored,
    index: int,
    aspect: float,
    fits: bool,
    padded: bool,
    pad_color: tuple[int, int, int] | None,
    score: float,
) -> CropCandidate:
    """One :class:`CropCandidate` of final ``score``; its contributions are scaled with it (by the
    share of the region and faces kept, and the avoid factor), so they still sum to the score."""
    total = float(scored.scores.total[index])
    factor = score / total if total > 0 else 0.0
    terms = {name: float(values[index]) for name, values in scored.scores.terms.items()}
    return CropCandidate(
        box_xyxy_px=crop.copy(),
        score=score,
        terms=terms,
        contributions={name: scored.scores.weights[name] * value * factor for name, value in terms.items()},
        aspect=aspect,
        fits=fits,
        padded=padded,
        pad_color=pad_color,
        region_kept=float(B.box_coverage(crop[None], scored.region[None])[0, 0]),
    )


def _as_boxes(boxes: BoxesLike, name: str) -> np.ndarray:
    """Any box list → float ``[K, 4]`` (:func:`promptcrop.request.parse_boxes`, the one parser)."""
    return parse_boxes(name, boxes)


def _check_image_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (W, H), got {image_size!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    return width, height


def _check_aspect(aspect: float) -> float:
    try:
        value = float(aspect)
    except (TypeError, ValueError):
        raise ValueError(f"aspect must be a positive number (width / height), got {aspect!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"aspect must be a positive number (width / height), got {aspect!r}")
    return value


__all__ = [
    "propose",
    "ComposerConfig",
    "CandidateScores",
    "CropCandidate",
    "compose",
    "score_candidates",
    "enumerate_candidates",
    "required_region",
    "kept_subject",
    "border_colour",
    "evidence_weakness",
]
