"""The candidate sources of the three modes: what each proposes for one image, before the request
is applied (:mod:`promptcrop.postprocess` applies it, the same way for every mode).

- ``offline``: the saliency map gives the region; the composer proposes crops around it.
- ``zeroshot``: OWL-ViT's grounded boxes (or generic detections, or the salient region) give the
  region; the composer proposes crops around it.
- ``clipcrop``: the trained decoder's boxes; when none is usable, the composer around the
  decoder's anchor (the grounded union box), said in the prediction's ``fallback``.

Model outputs are checked like any model output here (:func:`repair_grounding`,
:func:`promptcrop.boxes.repair_xyxy_px`); every box leaving this module is xyxy pixels of the
full upright image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from promptcrop import arrays as A
from promptcrop import boxes as B
from promptcrop.composer import ComposerConfig, propose
from promptcrop.postprocess import CandidateSource, Explanation, Proposal, decoder_proposal
from promptcrop.request import CropRequest
from promptcrop.results import GroundedBox
from promptcrop.saliency import SaliencyMap, clear_of_marks, compute_saliency, salient_region

# What Prediction.fallback says when a model output could not be used as it came.
FALLBACK_NO_GROUNDING = "no usable grounded box: crops around the unconditioned region"
FALLBACK_QUERY_IMAGE = "the query image gave no usable embedding: unconditioned crops"
FALLBACK_DECODER = "the decoder gave no usable crop: composed around its anchor box"
NO_BOXES = np.zeros((0, 4))


@dataclass(frozen=True, eq=False)
class Candidates:
    """What one mode proposes for one image.

    ``request``: the request as post-processing applies it (``exclude`` phrases grounded into
    avoid boxes); ``source``: the proposal per requested ratio (:data:`~promptcrop.postprocess.CandidateSource`);
    ``region``: ``[4]`` xyxy px the crops were built to keep, ``None`` for the decoder's own boxes;
    ``faces``: ``[F, 4]`` xyxy px the composer kept whole when it could (:func:`whole_boxes`);
    ``image_size``: ``(W, H)`` of the full image; ``image_rgb``: that image or a reduced copy
    (``[h, w, 3]`` uint8, for the pad colour); ``explanation``: query, phrases, grounding and
    fallback notes; ``timings``: seconds per stage so far.
    """

    mode: str
    request: CropRequest
    source: CandidateSource
    region: np.ndarray | None
    image_size: tuple[int, int]
    image_rgb: np.ndarray
    explanation: Explanation = Explanation()
    timings: dict[str, float] = field(default_factory=dict)
    faces: np.ndarray = field(default_factory=lambda: NO_BOXES)


def whole_boxes(saliency: SaliencyMap) -> np.ndarray:
    """The boxes a composer with this saliency map keeps whole or leaves out whole, ``[F, 4]`` xyxy
    px: its detected faces and the estimated heads of people whose face was not seen."""
    return np.concatenate([saliency.faces, saliency.heads]).reshape(-1, 4)


def composer_source(
    image_size: tuple[int, int],
    region: np.ndarray,
    request: CropRequest,
    config: ComposerConfig,
    *,
    saliency: SaliencyMap | None,
    keep: np.ndarray = NO_BOXES,
    marks: np.ndarray = NO_BOXES,
) -> CandidateSource:
    """The composer around ``region`` ``[4]`` as a candidate source; no ratio asked = the image's own."""
    width, height = image_size

    def source(aspects: Sequence[float | None]) -> list[Proposal]:
        return propose(
            image_size, region, aspects=[width / height if aspect is None else aspect for aspect in aspects],
            saliency=saliency, keep=keep, focus=request.focus, fit=request.fit, config=config, marks=marks,
            alternatives=request.k > 1,
        )

    return source


def offline_candidates(
    analysed: np.ndarray, full_size: tuple[int, int], request: CropRequest, config: ComposerConfig,
    motion: np.ndarray | None = None,
) -> tuple[CandidateSource, np.ndarray, np.ndarray]:
    """The weight-free source: saliency of ``analysed`` (a reduced ``[h, w, 3]`` copy of a
    ``full_size`` image; ``motion``, what moved in it as a video frame: see
    :func:`~promptcrop.saliency.map.compute_saliency`) and the composer; returns ``(source, region
    [4], faces [F, 4])`` (:func:`whole_boxes`). Corner watermarks and text are left out when a crop
    can."""
    sal = compute_saliency(analysed, image_size=full_size, marks=True, motion=motion)
    region = clear_of_marks(salient_region(sal), sal.marks)
    return composer_source(full_size, region, request, config, saliency=sal, marks=sal.marks), region, whole_boxes(sal)


def zeroshot_candidates(
    image_rgb: np.ndarray, keep: np.ndarray, request: CropRequest, config: ComposerConfig, *, conditioned: bool
) -> tuple[CandidateSource, np.ndarray, np.ndarray]:
    """Grounded boxes ``keep`` ``[N, 4]`` (or the salient region when there are none) and the
    composer: ``(source, region [4], faces [F, 4])`` (:func:`whole_boxes`). Faces are kept whole when nothing better says what
    matters, and corner marks left out; a query says itself what to keep and to leave out."""
    height, width = image_rgb.shape[:2]
    sal = compute_saliency(image_rgb, faces=NO_BOXES if conditioned else "auto", subjects=not conditioned,
                           marks=not conditioned)
    region = B.clamp_xyxy(B.union_box(keep) if len(keep) else clear_of_marks(salient_region(sal), sal.marks),
                          width, height)
    source = composer_source((width, height), region, request, config, saliency=sal, keep=keep, marks=sal.marks)
    return source, region, whole_boxes(sal)


def clipcrop_candidates(
    image_rgb: np.ndarray, decoded: Any, grounding: Any, request: CropRequest, config: ComposerConfig,
    notes: list[str],
) -> tuple[CandidateSource, np.ndarray | None]:
    """The decoder's usable boxes as the source (``region`` None: each box is its own region);
    with none usable, the composer around the anchor (grounded union box), noted in ``notes``.
    ``decoded``: the decoder output (``boxes_cxcywh [1, Q, 4]``, ``scores [1, Q]``)."""
    height, width = image_rgb.shape[:2]
    raw = B.model_to_image_xyxy_px(A.to_numpy(decoded.boxes_cxcywh[0]), width, height)
    boxes, ok = B.repair_xyxy_px(raw, width, height)
    scores = np.clip(np.nan_to_num(A.to_numpy(decoded.scores[0]), nan=0.0), 0.0, 1.0)
    if ok.any():
        return decoder_proposal(boxes[ok], scores[ok]), None
    notes.append(FALLBACK_DECODER)
    union = B.model_to_image_xyxy_px(A.to_numpy(grounding.union_cxcywh[0]), width, height)
    region = B.clamp_xyxy(union, width, height)
    keep = valid_boxes_px(grounding, width, height)
    source = composer_source((width, height), region, request, config, saliency=compute_saliency(image_rgb), keep=keep)
    return source, region


# ---------------------------------------------------------------------- grounding outputs


def repair_grounding(grounding: Any, size: tuple[int, int], notes: list[str]) -> Any:
    """Grounded boxes checked like any model output (:func:`promptcrop.boxes.repair_xyxy_px`):
    degenerate ones widened, unusable ones dropped; ``notes`` says what changed."""
    from promptcrop.model.grounding import with_boxes

    width, height = size
    raw = B.model_to_image_xyxy_px(A.to_numpy(grounding.boxes_cxcywh[0]), width, height)
    fixed, ok = B.repair_xyxy_px(raw, width, height)
    selected = A.to_numpy(grounding.mask[0])
    ok &= selected
    same = np.isclose(np.nan_to_num(raw, nan=-1.0), fixed, atol=1e-3).all(axis=-1)
    if (ok == selected).all() and same[ok].all():
        return grounding
    notes.append(FALLBACK_NO_GROUNDING if not ok.any() else
                 f"repaired {int((~same | ~ok)[selected].sum())} of {int(selected.sum())} grounded boxes")
    fixed_cxcywh = B.image_xyxy_px_to_model(fixed, width, height)
    return with_boxes(grounding, fixed_cxcywh[None], ok[None])


def valid_boxes_px(grounding: Any, width: int, height: int) -> np.ndarray:
    """The valid grounded boxes as xyxy pixels, ``[N, 4]`` (N may be 0)."""
    boxes = A.to_numpy(grounding.boxes_cxcywh[0])[A.to_numpy(grounding.mask[0])]
    return B.clamp_xyxy(B.model_to_image_xyxy_px(boxes, width, height).reshape(-1, 4), width, height)


def grounded_boxes(grounding: Any, phrases: tuple[str, ...], size: tuple[int, int]) -> tuple[GroundedBox, ...]:
    """One :class:`GroundedBox` per grounded phrase (xyxy px, clipped to the image)."""
    if not phrases or grounding.boxes_cxcywh.shape[1] == 0:
        return ()
    px = B.clamp_xyxy(B.model_to_image_xyxy_px(A.to_numpy(grounding.boxes_cxcywh[0]), *size), *size)
    logits = A.to_numpy(grounding.logits[0])
    return tuple(
        GroundedBox(phrase=p, box=tuple(float(v) for v in px[i]), logit=float(logits[i]))  # type: ignore[arg-type]
        for i, p in enumerate(phrases)
        if bool(grounding.mask[0, i])
    )


def select_item(encoding: Any, b: int) -> Any:
    """The ImageEncoding of batch item ``b`` (a batch of one)."""
    return type(encoding)(
        tokens=encoding.tokens[b : b + 1],
        grid_hw=encoding.grid_hw,
        boxes_cxcywh=encoding.boxes_cxcywh[b : b + 1],
        class_embeds=encoding.class_embeds[b : b + 1],
    )
