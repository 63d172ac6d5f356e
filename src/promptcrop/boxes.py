"""Every box format conversion and box computation in promptcrop lives here.

Formats (put them in variable names: ``boxes_cxcywh``, ``crop_xyxy_px``):

- **cxcywh, normalised** — ``(cx, cy, w, h)`` in ``[0, 1]`` relative to the image. What OWL-ViT emits
  and what the decoder, the grounding and the losses use.
- **xyxy, normalised** — ``(x1, y1, x2, y2)`` in ``[0, 1]``.
- **xyxy, pixels** — ``(x1, y1, x2, y2)`` in pixels of the original, EXIF-upright image; x1/y1
  inclusive, x2/y2 exclusive (so ``x2 - x1`` is the width). What every public result uses.

All functions take numpy arrays or torch tensors with the 4 coordinates on the last axis
(``[..., 4]``) and return the same kind. Pixel/normalised mapping happens in exactly one pair of
functions: :func:`model_to_image_xyxy_px` and :func:`image_xyxy_px_to_model`.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from promptcrop.errors import RequestError

if TYPE_CHECKING:
    import torch

    BoxArray = TypeVar("BoxArray", np.ndarray, torch.Tensor)
else:
    BoxArray = TypeVar("BoxArray")

EPS = 1e-7


def _is_tensor(value: Any) -> bool:
    """True for a torch tensor. torch is never imported here: a tensor exists only when the
    caller already imported torch, so the NumPy-only offline path stays free of it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _torch() -> Any:
    return sys.modules["torch"]


def _stack(parts: list[Any], like: Any) -> Any:
    if _is_tensor(like):
        return _torch().stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def _maximum(a: Any, b: Any) -> Any:
    return _torch().maximum(a, b) if _is_tensor(a) else np.maximum(a, b)


def _minimum(a: Any, b: Any) -> Any:
    return _torch().minimum(a, b) if _is_tensor(a) else np.minimum(a, b)


def _clip_min(a: Any, low: float) -> Any:
    return a.clamp(min=low) if _is_tensor(a) else np.maximum(a, low)  # np.clip costs 3x the call overhead


def _as_float(boxes: Any) -> Any:
    if type(boxes) is np.ndarray and boxes.dtype.kind == "f":  # the common case, without the checks below
        return boxes
    if _is_tensor(boxes):
        return boxes if boxes.is_floating_point() else boxes.float()
    return np.asarray(boxes, dtype=np.float64) if not np.issubdtype(
        np.asarray(boxes).dtype, np.floating
    ) else np.asarray(boxes)


# --------------------------------------------------------------------------- format conversions


def cxcywh_to_xyxy(boxes: BoxArray) -> BoxArray:
    """``[..., 4]`` cxcywh → ``[..., 4]`` xyxy (same units)."""
    boxes = _as_float(boxes)
    cx, cy, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], boxes)


def xyxy_to_cxcywh(boxes: BoxArray) -> BoxArray:
    """``[..., 4]`` xyxy → ``[..., 4]`` cxcywh (same units)."""
    boxes = _as_float(boxes)
    x1, y1, x2, y2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], boxes)


def _scale_xyxy(boxes: BoxArray, sx: float, sy: float) -> BoxArray:
    boxes = _as_float(boxes)
    return _stack(
        [boxes[..., 0] * sx, boxes[..., 1] * sy, boxes[..., 2] * sx, boxes[..., 3] * sy], boxes
    )


def model_to_image_xyxy_px(boxes_cxcywh: BoxArray, width: int, height: int) -> BoxArray:
    """THE mapping from model coordinates to the image.

    ``boxes_cxcywh``: ``[..., 4]`` normalised cxcywh relative to the whole (unpadded) image, as
    OWL-ViT (v1) and the ClipCrop decoder emit them. ``width``/``height``: the original, EXIF-upright
    image size in pixels. Returns ``[..., 4]`` float xyxy pixels (not clamped, not rounded).
    """
    _check_size(width, height)
    return _scale_xyxy(cxcywh_to_xyxy(boxes_cxcywh), float(width), float(height))


def image_xyxy_px_to_model(boxes_xyxy_px: BoxArray, width: int, height: int) -> BoxArray:
    """Inverse of :func:`model_to_image_xyxy_px`: ``[..., 4]`` xyxy pixels → normalised cxcywh."""
    _check_size(width, height)
    return xyxy_to_cxcywh(_scale_xyxy(boxes_xyxy_px, 1.0 / width, 1.0 / height))


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")


# --------------------------------------------------------------------------- measures


def box_area(boxes_xyxy: BoxArray) -> BoxArray:
    """``[..., 4]`` xyxy → ``[...]`` area; inverted boxes count as zero area."""
    boxes_xyxy = _as_float(boxes_xyxy)
    w = _clip_min(boxes_xyxy[..., 2] - boxes_xyxy[..., 0], 0.0)
    h = _clip_min(boxes_xyxy[..., 3] - boxes_xyxy[..., 1], 0.0)
    return w * h


def _pairwise_inter(a: Any, b: Any) -> Any:
    """``[..., N, 4]`` × ``[..., M, 4]`` xyxy → ``[..., N, M]`` intersection areas."""
    lt = _maximum(a[..., :, None, :2], b[..., None, :, :2])  # [N, M, 2]
    rb = _minimum(a[..., :, None, 2:], b[..., None, :, 2:])  # [N, M, 2]
    wh = _clip_min(rb - lt, 0.0)
    return wh[..., 0] * wh[..., 1]  # [N, M]


def _pairwise_inter_union(a: Any, b: Any) -> tuple[Any, Any]:
    inter = _pairwise_inter(a, b)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter
    return inter, union


def box_iou(a_xyxy: BoxArray, b_xyxy: BoxArray) -> BoxArray:
    """Pairwise IoU: ``[N, 4]`` × ``[M, 4]`` xyxy → ``[N, M]`` in [0, 1].

    Zero-area boxes are fine: IoU of two identical degenerate boxes is 0, never NaN.
    """
    a_xyxy, b_xyxy = _as_float(a_xyxy), _as_float(b_xyxy)
    inter, union = _pairwise_inter_union(a_xyxy, b_xyxy)
    return inter / _clip_min(union, EPS)


def generalized_box_iou(a_xyxy: BoxArray, b_xyxy: BoxArray) -> BoxArray:
    """Pairwise GIoU (Rezatofighi et al.): ``[N, 4]`` × ``[M, 4]`` xyxy → ``[N, M]`` in [-1, 1].

    No asserts on box validity (DETR's crash on degenerate boxes): inverted boxes are treated as
    zero-area and the enclosing area is floored by an epsilon.
    """
    a_xyxy, b_xyxy = _as_float(a_xyxy), _as_float(b_xyxy)
    inter, union = _pairwise_inter_union(a_xyxy, b_xyxy)
    iou = inter / _clip_min(union, EPS)
    lt = _minimum(a_xyxy[..., :, None, :2], b_xyxy[..., None, :, :2])
    rb = _maximum(a_xyxy[..., :, None, 2:], b_xyxy[..., None, :, 2:])
    wh = _clip_min(rb - lt, 0.0)
    enclosing = wh[..., 0] * wh[..., 1]
    return iou - (enclosing - union) / _clip_min(enclosing, EPS)


def _elementwise_inter_union(a: Any, b: Any) -> tuple[Any, Any]:
    wh = _clip_min(_minimum(a[..., 2:], b[..., 2:]) - _maximum(a[..., :2], b[..., :2]), 0.0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, box_area(a) + box_area(b) - inter


def elementwise_iou(a_xyxy: BoxArray, b_xyxy: BoxArray) -> BoxArray:
    """IoU of matching rows: ``[..., 4]`` × ``[..., 4]`` → ``[...]``."""
    a_xyxy, b_xyxy = _as_float(a_xyxy), _as_float(b_xyxy)
    inter, union = _elementwise_inter_union(a_xyxy, b_xyxy)
    return inter / _clip_min(union, EPS)


def elementwise_generalized_box_iou(a_xyxy: BoxArray, b_xyxy: BoxArray) -> BoxArray:
    """GIoU of matching rows: ``[..., 4]`` × ``[..., 4]`` xyxy → ``[...]`` in [-1, 1] — the
    diagonal of :func:`generalized_box_iou` without computing the rest of the matrix."""
    a_xyxy, b_xyxy = _as_float(a_xyxy), _as_float(b_xyxy)
    inter, union = _elementwise_inter_union(a_xyxy, b_xyxy)
    outer = _clip_min(_maximum(a_xyxy[..., 2:], b_xyxy[..., 2:]) - _minimum(a_xyxy[..., :2], b_xyxy[..., :2]), 0.0)
    enclosing = outer[..., 0] * outer[..., 1]
    return inter / _clip_min(union, EPS) - (enclosing - union) / _clip_min(enclosing, EPS)


def contains(outer_xyxy: BoxArray, inner_xyxy: BoxArray, tol: float = 1e-6) -> BoxArray:
    """``[..., 4]`` × ``[..., 4]`` → ``[...]`` bool: does ``outer`` contain ``inner`` (within tol)."""
    o, i = _as_float(outer_xyxy), _as_float(inner_xyxy)
    return (
        (o[..., 0] <= i[..., 0] + tol)
        & (o[..., 1] <= i[..., 1] + tol)
        & (o[..., 2] >= i[..., 2] - tol)
        & (o[..., 3] >= i[..., 3] - tol)
    )


def box_coverage(outer_xyxy: BoxArray, inner_xyxy: BoxArray) -> BoxArray:
    """Pairwise share of each inner box's area inside each outer box: ``[N, 4]`` × ``[M, 4]`` xyxy
    → ``[N, M]`` in [0, 1] (1 = fully inside). A zero-area inner box gives 0."""
    outer_xyxy, inner_xyxy = _as_float(outer_xyxy), _as_float(inner_xyxy)
    return _pairwise_inter(outer_xyxy, inner_xyxy) / _clip_min(box_area(inner_xyxy)[..., None, :], EPS)


# --------------------------------------------------------------------------- combining and fitting


def union_box(boxes_xyxy: BoxArray) -> BoxArray:
    """Smallest box holding all boxes: ``[..., N, 4]`` xyxy → ``[..., 4]`` xyxy. N must be ≥ 1."""
    boxes_xyxy = _as_float(boxes_xyxy)
    if boxes_xyxy.shape[-2] == 0:
        raise ValueError("union_box needs at least one box")
    if _is_tensor(boxes_xyxy):
        lo = boxes_xyxy[..., :2].amin(dim=-2)
        hi = boxes_xyxy[..., 2:].amax(dim=-2)
        return _torch().cat([lo, hi], dim=-1)
    lo = boxes_xyxy[..., :2].min(axis=-2)
    hi = boxes_xyxy[..., 2:].max(axis=-2)
    return np.concatenate([lo, hi], axis=-1)


def clamp_xyxy(boxes_xyxy: BoxArray, width: float, height: float) -> BoxArray:
    """Clip ``[..., 4]`` xyxy boxes to ``[0, width] × [0, height]`` (use 1, 1 for normalised)."""
    b = _as_float(boxes_xyxy)
    if _is_tensor(b):
        xs = b[..., 0::2].clamp(0.0, float(width))
        ys = b[..., 1::2].clamp(0.0, float(height))
    else:
        xs = np.clip(b[..., 0::2], 0.0, float(width))
        ys = np.clip(b[..., 1::2], 0.0, float(height))
    return _stack([xs[..., 0], ys[..., 0], xs[..., 1], ys[..., 1]], b)


def scale_shift_xyxy(
    boxes_xyxy: BoxArray, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0
) -> BoxArray:
    """``[..., 4]`` xyxy → ``[..., 4]`` xyxy of the same region after the image is scaled by
    ``(sx, sy)`` and then shifted by ``(dx, dy)`` (e.g. pasted as a resized tile into a mosaic)."""
    scaled = _scale_xyxy(boxes_xyxy, sx, sy)
    return _stack(
        [scaled[..., 0] + dx, scaled[..., 1] + dy, scaled[..., 2] + dx, scaled[..., 3] + dy],
        scaled,
    )


def hflip_xyxy(boxes_xyxy: BoxArray, width: float) -> BoxArray:
    """``[..., 4]`` xyxy → ``[..., 4]`` xyxy of the same region in the image mirrored left-right
    (``width``: image width in the boxes' units, 1 for normalised)."""
    b = _as_float(boxes_xyxy)
    return _stack([width - b[..., 2], b[..., 1], width - b[..., 0], b[..., 3]], b)


def parse_aspect_ratio(text: str | float) -> float:
    """``"16:9"``, ``"4x5"``, ``"1.5"`` or a number → width/height as a float > 0.

    Raises RequestError (a ValueError) with the offending text for anything else (zero, negative, not a number).
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = str(text).strip().lower()
        sep = next((s for s in (":", "x", "/") if s in raw), None)
        try:
            if sep is None:
                value = float(raw)
            else:
                w_text, h_text = raw.split(sep, 1)
                w, h = float(w_text), float(h_text)
                if w <= 0 or h <= 0:
                    raise ValueError
                value = w / h
        except ValueError:
            raise RequestError(
                f"invalid aspect ratio {text!r}: expected W:H with positive numbers, e.g. 16:9"
            ) from None
    if not math.isfinite(value) or value <= 0:
        raise RequestError(f"invalid aspect ratio {text!r}: it must be a positive number")
    return value


def fit_aspect_ratio(
    region_xyxy: np.ndarray, aspect: float, width: float, height: float
) -> tuple[np.ndarray, bool]:
    """The smallest box of ratio ``aspect`` (w/h) holding ``region_xyxy``, inside the image.

    The box is centred on the region and then shifted (not shrunk) to lie inside
    ``[0, width] × [0, height]``. If no box of that ratio inside the image can hold the region, the
    largest box of that ratio that fits the image is returned, centred as near the region's centre
    as the image allows, and ``fits`` is False. Returns ``(box_xyxy float [4], fits)``.
    """
    if aspect <= 0 or not math.isfinite(aspect):
        raise ValueError(f"aspect ratio must be a positive number, got {aspect}")
    _check_size(width, height)
    x1, y1, x2, y2 = (float(v) for v in np.asarray(region_xyxy, dtype=np.float64))
    rw, rh = max(x2 - x1, 0.0), max(y2 - y1, 0.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w = max(rw, rh * aspect)
    h = w / aspect
    max_w = min(width, height * aspect)
    fits = w <= max_w * (1 + 1e-9)
    if not fits:
        w, h = max_w, max_w / aspect
    bx1 = min(max(cx - w / 2, 0.0), width - w)
    by1 = min(max(cy - h / 2, 0.0), height - h)
    return np.array([bx1, by1, bx1 + w, by1 + h]), bool(fits)


def snap_to_pixels(
    box_xyxy: np.ndarray, width: int, height: int, aspect: float | None = None
) -> np.ndarray:
    """Round float pixel boxes to integers inside the image, keeping ``aspect`` exact to 1 px.

    ``box_xyxy``: ``[4]`` or ``[N, 4]`` finite (vectorised: a camera path's boxes in one call).
    With ``aspect`` (finite, > 0), the side that is the longer at that ratio (the width when
    ``aspect >= 1``) is rounded and the other derived from it (the other way round if the derived
    side would leave the image), so the ratio's error stays within half a pixel of the shorter
    side, and a crop spanning the image's full height (or width) keeps it. Each box keeps its
    centre as nearly as the image allows. Returns ``int64`` of the input's shape, xyxy, with
    ``x2 - x1 >= 1`` and ``y2 - y1 >= 1``. ValueError for a non-finite box or a bad ratio.
    """
    _check_size(width, height)
    boxes = np.asarray(box_xyxy, dtype=np.float64)
    if boxes.shape[-1:] != (4,) or not np.isfinite(boxes).all():
        raise ValueError(f"boxes must be finite xyxy boxes [..., 4], got shape {boxes.shape}")
    if aspect is not None and not (math.isfinite(aspect) and aspect > 0):
        raise ValueError(f"aspect ratio must be a positive number, got {aspect}")
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    w = np.clip(np.round(x2 - x1), 1, width)
    h = np.clip(np.round(y2 - y1), 1, height)
    if aspect is not None:
        w, h = ratio_sides(w, h, aspect, width, height)
    left = np.clip(np.round((x1 + x2) / 2 - w / 2), 0, width - w)
    top = np.clip(np.round((y1 + y2) / 2 - h / 2), 0, height - h)
    return np.stack([left, top, left + w, top + h], axis=-1).astype(np.int64)


def ratio_sides(w: np.ndarray, h: np.ndarray, aspect: float, width: float = math.inf,
                height: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Whole-pixel sides ``(w, h)`` at ``aspect`` from rounded sides ``w``, ``h`` (``>= 1``): the
    side that is the longer at that ratio is kept and the other derived from it, or — where the
    derived side would exceed the image's ``width`` / ``height`` (no limit by default: a letterbox)
    — that side at the limit and the kept one derived from it. The one rounding rule of crops and
    letterboxes (:func:`snap_to_pixels`, :func:`promptcrop.postprocess.round_letterbox`)."""
    if aspect >= 1:  # wide: the width is the longer side
        return _derived_side(w, aspect, height)
    h, w = _derived_side(h, 1 / aspect, width)
    return w, h


def _derived_side(long: np.ndarray, ratio: float, short_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """``(long, short)`` whole-pixel sides at ``ratio`` = long / short ≥ 1: the short side derived
    from the long one, or, where it would exceed ``short_limit``, the short side at the limit and
    the long side derived from it."""
    short = np.maximum(np.round(long / ratio), 1)
    over = short > short_limit
    return np.where(over, np.maximum(np.round(short_limit * ratio), 1), long), np.where(over, short_limit, short)


def select_diverse(
    boxes_xyxy: np.ndarray, scores: np.ndarray, *, max_iou: float, k: int
) -> np.ndarray:
    """Greedy near-duplicate removal: indices of at most ``k`` boxes, best score first, whose
    pairwise IoU is below ``max_iou``. ``boxes_xyxy`` ``[N, 4]``, ``scores`` ``[N]`` → ``int [≤k]``.
    Ties in score keep the input order (stable), so results are deterministic."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked = boxes_xyxy[order]
    # One vectorised IoU row per chosen box (k rows), not one check per candidate: suppressing
    # every box too close to each choice gives the same picks as checking each box in turn.
    alive = np.ones(len(order), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < k and alive.any():
        pos = int(np.argmax(alive))  # best remaining
        chosen.append(int(order[pos]))
        alive &= box_iou(ranked[pos : pos + 1], ranked)[0] < max_iou
        alive[pos] = False
    return np.asarray(chosen, dtype=np.int64)


# --------------------------------------------------------------------------- model outputs


MIN_BOX_FRACTION = 0.02
"""A repaired model box is at least this share of the image's longer side on each axis."""


def repair_xyxy_px(
    boxes_xyxy_px: np.ndarray, width: int, height: int, min_fraction: float = MIN_BOX_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Model-made boxes made usable: ``[N, 4]`` xyxy px → ``(boxes [N, 4], ok [N] bool)``.

    Model outputs are never trusted like user input: a box with a non-finite coordinate, or whose
    centre lies outside the image, is not ``ok`` (its row is zeros). Every other box is clipped to
    the image, and a side shorter than ``min(image side, max(1, min_fraction × longer side))``
    is widened around the box's centre and shifted back inside — a zero-area detection becomes a
    small box around the point it marks.
    """
    b = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(b).all(axis=-1)
    safe = np.where(finite[:, None], b, 0.0)
    cx, cy = (safe[:, 0] + safe[:, 2]) / 2, (safe[:, 1] + safe[:, 3]) / 2
    ok = finite & (cx >= 0) & (cx <= width) & (cy >= 0) & (cy <= height)
    side = max(1.0, min_fraction * max(width, height))
    out = clamp_xyxy(safe, width, height)
    for lo, hi, centre, limit in ((0, 2, cx, width), (1, 3, cy, height)):
        need = min(side, float(limit))
        short = (out[:, hi] - out[:, lo]) < need
        start = np.clip(centre - need / 2, 0.0, limit - need)
        out[:, lo] = np.where(short, start, out[:, lo])
        out[:, hi] = np.where(short, start + need, out[:, hi])
    return np.where(ok[:, None], out, 0.0), ok
