"""Grounding: pick the image token each query embedding matches best, and their union box ``b_u``.

ClipCrop (paper §3.2; docs/METHOD.md, "Grounding"): for every query embedding ``w`` the image
token with the highest OWL-ViT logit is selected (``t_img^w`` and its initial box ``b_ini^w``); the
union of the selected boxes, computed in xyxy, is the anchor ``b_u`` the decoder regresses offsets
from. Without a condition (ClipCrop-base) nothing is selected and ``b_u`` is the whole image.

Inference steps (:func:`ground`, :func:`unconditioned`, :func:`with_boxes`) take torch tensors or
NumPy arrays (:mod:`promptcrop.arrays`): the ONNX Runtime backend grounds without PyTorch. The
training filter :func:`filter_for_target` works on tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptcrop import arrays as A
from promptcrop.backends.base import ImageEncoding
from promptcrop.boxes import (
    EPS,
    box_area,
    clamp_xyxy,
    contains,
    cxcywh_to_xyxy,
    elementwise_iou,
    union_box,
    xyxy_to_cxcywh,
)
from promptcrop.errors import InternalError

if TYPE_CHECKING:
    import torch

WHOLE_IMAGE_CXCYWH = (0.5, 0.5, 1.0, 1.0)


@dataclass
class Grounding:
    """The tokens selected by the queries of a batch (torch tensors or NumPy arrays, one kind).

    Attributes:
        token_index: ``[B, W]`` long, selected token per query (argmax over ``P`` of the logits).
        tokens: ``[B, W, D]`` the selected image tokens ``t_img^w``.
        boxes_cxcywh: ``[B, W, 4]`` their initial boxes ``b_ini^w``, normalised cxcywh.
        logits: ``[B, W]`` their logits (kept for explanations).
        mask: ``[B, W]`` bool, True for a valid selection (padding queries and filtered-out
            selections are False).
        union_cxcywh: ``[B, 4]`` normalised cxcywh union of the valid boxes (taken in xyxy with
            :func:`promptcrop.boxes.union_box`, clamped to the image); the whole image
            ``(0.5, 0.5, 1, 1)`` where a row has no valid selection.
    """

    token_index: Any
    tokens: Any
    boxes_cxcywh: Any
    logits: Any
    mask: Any
    union_cxcywh: Any

    def __post_init__(self) -> None:
        batch, width = self.token_index.shape
        expected = {
            "tokens": (batch, width, self.tokens.shape[-1]),
            "boxes_cxcywh": (batch, width, 4),
            "logits": (batch, width),
            "mask": (batch, width),
            "union_cxcywh": (batch, 4),
        }
        for name, shape in expected.items():
            actual = tuple(getattr(self, name).shape)
            if actual != shape:
                raise InternalError(f"Grounding.{name} must have shape {shape}, got {actual}")
        if str(self.mask.dtype) not in ("torch.bool", "bool"):
            raise InternalError(f"Grounding.mask must be bool, got {self.mask.dtype}")


def union_of_valid(boxes_cxcywh: Any, mask: Any) -> Any:
    """Union box of the valid boxes of each row.

    ``boxes_cxcywh``: ``[B, W, 4]`` normalised cxcywh; ``mask``: ``[B, W]`` bool. Returns
    ``[B, 4]`` normalised cxcywh: the union taken in xyxy and clamped to the image, or the whole
    image where a row has no valid box (including ``W = 0``).
    """
    batch = boxes_cxcywh.shape[0]
    whole = A.full(boxes_cxcywh, (batch, 4), 0.0) + A.constant(boxes_cxcywh, WHOLE_IMAGE_CXCYWH)
    if boxes_cxcywh.shape[1] == 0:
        return whole
    boxes_xyxy = cxcywh_to_xyxy(boxes_cxcywh)  # [B, W, 4]
    # Invalid boxes become "empty" (lo = +inf, hi = -inf) so they never widen the union.
    empty = A.constant(boxes_xyxy, [float("inf")] * 2 + [float("-inf")] * 2)
    masked = A.where(mask[..., None], boxes_xyxy, empty)
    union_cxcywh = xyxy_to_cxcywh(clamp_xyxy(union_box(masked), 1.0, 1.0))  # [B, 4]
    return A.where(mask.any(1)[:, None], union_cxcywh, whole)


def ground(encoding: ImageEncoding, logits: Any, query_mask: Any | None = None) -> Grounding:
    """Select, for each query, the image token with the highest logit.

    Args:
        encoding: the image encoding (``P`` tokens per image).
        logits: ``[B, P, W]`` query logits (``OwlViTEncoder.query_logits``).
        query_mask: ``[B, W]`` bool (or 0/1), False for padding queries; None means all valid.

    Returns:
        A :class:`Grounding` with ``W`` selections per image and their union box.
    """
    batch, num_tokens = encoding.tokens.shape[:2]
    if logits.ndim != 3 or tuple(logits.shape[:2]) != (batch, num_tokens):
        raise InternalError(
            f"logits must be [{batch}, {num_tokens}, W], got {tuple(logits.shape)}"
        )
    width = logits.shape[2]
    if query_mask is None:
        mask = A.full(logits, (batch, width), True, "bool")
    else:
        if tuple(query_mask.shape) != (batch, width):
            raise InternalError(
                f"query_mask must be [{batch}, {width}], got {tuple(query_mask.shape)}"
            )
        mask = A.as_bool(query_mask, logits)
    if num_tokens == 0:
        raise InternalError("cannot ground queries in an encoding without image tokens")
    best_logits, token_index = A.max_along(logits, axis=1)  # [B, W], [B, W]
    boxes_cxcywh = A.gather_rows(encoding.boxes_cxcywh, token_index)
    return Grounding(
        token_index=token_index,
        tokens=A.gather_rows(encoding.tokens, token_index),
        boxes_cxcywh=boxes_cxcywh,
        logits=best_logits,
        mask=mask,
        union_cxcywh=union_of_valid(boxes_cxcywh, mask),
    )


def unconditioned(encoding: ImageEncoding) -> Grounding:
    """The empty grounding of ClipCrop-base: ``W = 0`` and ``b_u`` = the whole image."""
    tokens = encoding.tokens
    batch = tokens.shape[0]
    boxes = A.full(encoding.boxes_cxcywh, (batch, 0, 4), 0.0)
    return Grounding(
        token_index=A.full(tokens, (batch, 0), 0, "long"),
        tokens=A.full(tokens, (batch, 0, tokens.shape[-1]), 0.0),
        boxes_cxcywh=boxes,
        logits=A.full(tokens, (batch, 0), 0.0),
        mask=A.full(tokens, (batch, 0), False, "bool"),
        union_cxcywh=union_of_valid(boxes, A.full(tokens, (batch, 0), False, "bool")),
    )


def filter_for_target(
    grounding: Grounding,
    target_cxcywh: torch.Tensor,
    *,
    target_mask: torch.Tensor | None = None,
    min_cover: float = 0.5,
) -> Grounding:
    """The mosaic-training filter of paper §3.3 (docs/METHOD.md, "Grounding").

    With several tiles in one mosaic, a query can select a token in a tile that does not hold the
    ground truth. A valid selection is dropped (its mask set to False) when it is

    - **far** from the target: the centre of the selected box lies outside the target box, or
    - **too small**: it covers less than ``min_cover`` (half) of the target box's area, i.e.
      ``area(selected ∩ target) < min_cover · area(target)`` — the paper's "contain less than
      half the area of that box".

    **Keeping at least one**: if every valid selection of an image would be dropped, the
    non-far one covering the most of the target (ties: the first) is kept, so the anchor stays
    on the target's tile; if all are far, none is kept and ``b_u`` becomes the whole image.

    Args:
        grounding: the unfiltered grounding.
        target_cxcywh: ``[B, 4]`` normalised cxcywh, the best ground-truth crop (highest MOS) of
            each image, relative to the (mosaic) image.
        target_mask: ``[B]`` bool, False for images without a target (left unfiltered);
            None means every image has one.
        min_cover: the share of the target's area a selection must cover, in ``(0, 1]``.

    Returns:
        The grounding with an updated ``mask`` and ``union_cxcywh``; the other fields unchanged.
    """
    import torch

    if not 0.0 < min_cover <= 1.0:
        raise ValueError(f"min_cover must be in (0, 1], got {min_cover}")
    batch = grounding.mask.shape[0]
    if tuple(target_cxcywh.shape) != (batch, 4):
        raise InternalError(f"target_cxcywh must be [{batch}, 4], got {tuple(target_cxcywh.shape)}")
    if target_mask is not None and tuple(target_mask.shape) != (batch,):
        raise InternalError(f"target_mask must be [{batch}], got {tuple(target_mask.shape)}")

    if grounding.mask.shape[1] == 0:
        return grounding
    boxes_xyxy = cxcywh_to_xyxy(grounding.boxes_cxcywh)  # [B, W, 4]
    target_xyxy = cxcywh_to_xyxy(target_cxcywh.to(boxes_xyxy))[:, None, :].expand_as(boxes_xyxy)
    centres = grounding.boxes_cxcywh[..., :2]
    near = contains(target_xyxy, torch.cat([centres, centres], dim=-1), tol=0.0)  # [B, W]
    cover = _cover(boxes_xyxy, target_xyxy)  # [B, W]
    keep = grounding.mask & near & (cover >= min_cover)

    fallback_candidates = grounding.mask & near
    needs_fallback = ~keep.any(dim=1) & fallback_candidates.any(dim=1)  # [B]
    best = torch.where(fallback_candidates, cover, torch.full_like(cover, -1.0)).argmax(dim=1)
    fallback = torch.nn.functional.one_hot(best, keep.shape[1]).bool()  # [B, W]
    keep = keep | (fallback & needs_fallback[:, None])
    if target_mask is not None:
        keep = torch.where(target_mask.to(keep.device, torch.bool)[:, None], keep, grounding.mask)

    return Grounding(
        token_index=grounding.token_index,
        tokens=grounding.tokens,
        boxes_cxcywh=grounding.boxes_cxcywh,
        logits=grounding.logits,
        mask=keep,
        union_cxcywh=union_of_valid(grounding.boxes_cxcywh, keep),
    )


def _cover(boxes_xyxy: torch.Tensor, target_xyxy: torch.Tensor) -> torch.Tensor:
    """Share of each target's area covered by the matching box: ``[..., 4]`` × ``[..., 4]`` → ``[...]``.

    Uses ``intersection = IoU · (area_a + area_b) / (1 + IoU)``, which follows from
    ``IoU = I / (area_a + area_b - I)``, so the overlap comes from :func:`elementwise_iou`.
    """
    iou = elementwise_iou(boxes_xyxy, target_xyxy)
    target_area = box_area(target_xyxy)
    inter = iou * (box_area(boxes_xyxy) + target_area) / (1.0 + iou)
    return inter / target_area.clamp(min=EPS)


def with_boxes(grounding: Grounding, boxes_cxcywh: Any, mask: Any) -> Grounding:
    """The same selections with other boxes ``[B, W, 4]`` (normalised cxcywh; NumPy or of the
    grounding's kind) and validity ``[B, W]``; the union is recomputed from the valid ones (the
    whole image where none is)."""
    mask = A.as_bool(mask, grounding.mask)
    boxes_cxcywh = A.constant(grounding.boxes_cxcywh, A.to_numpy(boxes_cxcywh))
    return Grounding(
        token_index=grounding.token_index, tokens=grounding.tokens, boxes_cxcywh=boxes_cxcywh,
        logits=grounding.logits, mask=mask, union_cxcywh=union_of_valid(boxes_cxcywh, mask),
    )
