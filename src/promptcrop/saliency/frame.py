"""Frame artefacts: borders, bars and caption banners around a photo, found as flat bands along the
image sides, and blurred fill (the photo set into a blurred copy of itself, as vertical video and
photos are padded to a landscape frame). :func:`content_box` returns the photo inside them
(``[4]`` xyxy px).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from promptcrop.saliency import ndimage_lite as ndimage
from promptcrop.saliency.grid import WORK_SIDE, channel_mean, check_image, median, reduce

#: Frame artefacts: how far a band may reach, how neutral and flat it must be, and how clear the
#: step into the photo.
BAND_MAX_SHARE = 0.35


BAND_MAX_CHROMA = 28.0


BAND_DARK, BAND_LIGHT = 60.0, 200.0  # bars and banners are dark or light, not mid-grey


BAND_COLOUR_TOLERANCE = 22.0


BAND_FLAT_SHARE = 0.85


BAND_TEXT_ALLOWANCE = 0.7


BAND_STEP_SHARE = 0.5

#: A bar is one flat colour: the median detail (absolute luminance Laplacian, grey levels, on the
#: reduced copy) of its lines stays below this, text on a caption banner included (text covers
#: little of it). A dark or light textured surface at the photo's edge — a wooden pier, a
#: pavement — is part of the photo.
BAND_MAX_DETAIL = 2.0

#: Blurred fill: a line of it has no luminance Laplacian above ``FILL_MAX_DETAIL`` (grey levels,
#: on the copy of at most :data:`WORK_SIDE` px: a blur leaves compression noise, any edge or
#: texture of a photo — a cloud, a tower against the sky — exceeds it); the fill ends at a straight
#: border: the first line inside has detail of at least ``FILL_STEP_DETAIL`` along
#: ``FILL_STEP_SHARE`` of its span between the other bands. A fill band is ``FILL_SHARE`` of its side
#: (a 9:16 video padded to 16:9 has 34 % on each side; a view panned off a photo, more on one side;
#: the photo left must still be 0.3 of each side, as inside bars).
FILL_MAX_DETAIL = 12.0
FILL_STEP_DETAIL = 3.0
FILL_STEP_SHARE = 0.6
FILL_SHARE = (0.02, 0.7)
#: A flat band whose luminance varies by more than this (standard deviation, grey levels) without
#: any detail is dark, dull fill rather than a bar (a bar is one colour).
FILL_SPREAD = 3.0


def content_box(image_rgb: np.ndarray) -> np.ndarray:
    """The photo without frame artefacts: ``float [4]`` xyxy px of the image.

    Borders, letterbox / pillarbox bars and caption banners are bands along an image side that
    are one flat, neutral, dark or light colour (a line is flat when :data:`BAND_FLAT_SHARE` of
    it is near the band's colour; text rows may interrupt, as long as :data:`BAND_TEXT_ALLOWANCE`
    of the lines are flat) and end at a straight step into the photo. Each side is scanned on a
    copy reduced to at most :data:`WORK_SIDE` px; a band thicker than :data:`BAND_MAX_SHARE` of
    the image is not a frame. Inside them, blurred fill is looked for: bands whose lines hold no
    edge or texture (:data:`FILL_MAX_DETAIL`), ending at a straight border into the photo, on the
    left or right, or at the top and bottom alike (:func:`frame_artefacts`); fill that would leave
    less than 0.3 of a side is a smooth backdrop of the photo, not fill, and the bars alone count.
    An image without either gives the whole image.
    """
    arr = check_image(image_rgb)
    height, width = arr.shape[:2]
    return frame_artefacts(np.asarray(reduce(Image.fromarray(arr), WORK_SIDE)), width, height)[0]


def frame_artefacts(small_rgb: np.ndarray, width: int, height: int) -> tuple[np.ndarray, bool]:
    """``(content box [4] xyxy px, whether blurred fill was found)`` from a reduced copy
    uint8 ``[h, w, 3]`` of a W × H image: flat bands first, then blurred fill inside them (a padded video
    often has a thin black edge around its fill)."""
    full = np.array([0.0, 0.0, float(width), float(height)])
    small = small_rgb.astype(np.float32)
    sh, sw = small.shape[:2]
    if min(sh, sw) < 8:
        return full, False
    # Lines from each side inwards: top rows, bottom rows, left columns, right columns.
    top = _band_depth(small)
    bottom = _band_depth(small[::-1])
    left = _band_depth(small.transpose(1, 0, 2))
    right = _band_depth(small.transpose(1, 0, 2)[::-1])
    grey = channel_mean(small)
    flat_fill = _flat_bands_are_fill(grey, top, bottom, left, right)
    inner = grey[top : sh - bottom, left : sw - right]
    fill = _fill_depths(inner) if min(inner.shape) >= 8 else (0, 0, 0, 0)
    scale = (width / sw, height / sh)
    bars = _inside(top, bottom, left, right, width, height, scale)
    with_fill = _inside(*(d + f for d, f in zip((top, bottom, left, right), fill)), width, height, scale)
    if with_fill is not None:
        return with_fill, any(fill) or flat_fill
    # Fill that would leave too little is a smooth backdrop, not fill: the bars stand on their own.
    return (full, False) if bars is None else (bars, flat_fill)


def _inside(top: int, bottom: int, left: int, right: int, width: int, height: int,
            scale: tuple[float, float]) -> np.ndarray | None:
    """The box ``[4]`` xyxy px of a ``width`` × ``height`` image inside bands of these depths (lines
    of the reduced copy, ``scale`` = its (x, y) px in image px), or None when it keeps less than 0.3
    of a side."""
    fx, fy = scale
    box = np.array([left * fx, top * fy, width - right * fx, height - bottom * fy])
    if box[2] - box[0] < 0.3 * width or box[3] - box[1] < 0.3 * height:
        return None
    return box


def _flat_bands_are_fill(grey: np.ndarray, top: int, bottom: int, left: int, right: int) -> bool:
    """Whether the flat bands found (depths in lines of the luminance ``[h, w]``) are all dark,
    dull blurred fill — no detail (:data:`FILL_MAX_DETAIL`) but not one colour
    (:data:`FILL_SPREAD`) — rather than bars; False when there are none."""
    h, w = grey.shape
    bands = [grey[: top - 1], grey[h - bottom + 1 :], grey[:, : left - 1], grey[:, w - right + 1 :]]
    bands = [b for b, d in zip(bands, (top, bottom, left, right)) if d > 1 and b.size]
    return bool(bands) and all(
        float(np.abs(ndimage.laplace(b)).max()) < FILL_MAX_DETAIL and float(b.std()) > FILL_SPREAD for b in bands
    )


def _fill_depths(grey: np.ndarray) -> tuple[int, int, int, int]:
    """Depths (lines) of blurred fill on the top, bottom, left and right of the luminance ``[h, w]``
    (see :data:`FILL_MAX_DETAIL`); all 0 when there is none. A band at the top or bottom is taken
    only beside a band on the left or right, or with one of at least half its depth on the
    opposite side (a 16:9 video padded to 9:16): a clear sky above a straight horizon, or a smooth
    sky and a smooth foreground, look the same. The line next to the photo belongs to the fill
    (its Laplacian sees the step)."""
    detail = np.abs(ndimage.laplace(grey))
    h, w = detail.shape
    rows, cols = detail.max(axis=1) < FILL_MAX_DETAIL, detail.max(axis=0) < FILL_MAX_DETAIL
    depth = [_leading(rows), _leading(rows[::-1]), _leading(cols), _leading(cols[::-1])]
    top, bottom, left, right = depth
    y0, y1, x0, x1 = top, h - bottom, left, w - right
    # the first line inside each band, over the span the perpendicular bands leave
    inside = [detail[min(y0, h - 1), x0:x1], detail[max(y1 - 1, 0), x0:x1],
              detail[y0:y1, min(x0, w - 1)], detail[y0:y1, max(x1 - 1, 0)]]
    low, high = FILL_SHARE
    found = [
        low * side <= d <= high * side and len(line) > 0 and (line >= FILL_STEP_DETAIL).mean() >= FILL_STEP_SHARE
        for d, side, line in zip(depth, (h, h, w, w), inside)
    ]
    if not (found[2] or found[3]) and not (found[0] and found[1] and min(top, bottom) >= 0.5 * max(top, bottom)):
        return 0, 0, 0, 0
    return tuple(d + 1 if ok else 0 for d, ok in zip(depth, found))  # type: ignore[return-value]


def _leading(flags: np.ndarray) -> int:
    """How many of ``flags`` ``[n]`` are true from index 0 on."""
    misses = np.flatnonzero(~flags)
    return int(misses[0]) if len(misses) else len(flags)


def _band_depth(lines: np.ndarray) -> int:
    """How many lines (first axis of ``[n, m, 3]``, from index 0) form a flat frame band, 0 if none."""
    n = lines.shape[0]
    limit = int(BAND_MAX_SHARE * n)
    colour = median(lines[0], axis=0)  # [3]
    if float(colour.max() - colour.min()) > BAND_MAX_CHROMA or BAND_DARK < colour.mean() < BAND_LIGHT:
        return 0
    near = _distance(lines[: limit + 1], colour) < BAND_COLOUR_TOLERANCE  # [l, m]
    flat = near.mean(axis=-1) >= BAND_FLAT_SHARE  # [l]; text lines on a banner are not flat
    if not flat[0]:
        return 0
    # The band runs to the last flat line before the photo, as long as most lines up to it are
    # flat (a caption's text rows interrupt it for a few lines, a photo does not stop doing so).
    candidates = np.flatnonzero(flat)
    share_flat = np.cumsum(flat) / np.arange(1, len(flat) + 1)
    good = candidates[share_flat[candidates] >= BAND_TEXT_ALLOWANCE]
    depth = int(good.max()) + 1 if len(good) else 0
    # The photo must start with a step: the first line inside differs from the band colour
    # across most of its width (a straight border, not a sky fading into a scene).
    inside = _distance(lines[depth], colour) >= BAND_COLOUR_TOLERANCE
    if inside.mean() < BAND_STEP_SHARE:
        return 0
    return depth if median(np.abs(ndimage.laplace(channel_mean(lines[:depth])))) < BAND_MAX_DETAIL else 0


def _distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pixel ``[..., 3]`` to ``colour`` ``[3]``: ``np.linalg.norm`` over
    the last axis without its slow reduction over 3 values. Pixels and colour hold whole or half
    grey levels (uint8 values and their medians), so the squares and their sum are exact in any
    order: the same values."""
    d = pixels - colour
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
