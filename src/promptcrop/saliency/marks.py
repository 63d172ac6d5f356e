"""Corner watermarks and text: thin near-achromatic strokes, chained glyphs on one baseline, even
stroke width, quiet rows around. :func:`corner_marks` returns ``[M, 4]`` xyxy px boxes to leave out.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

import promptcrop.saliency.ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop import boxes as B
from promptcrop.saliency.grid import channel_extremes, check_image, median, unique

#: Corner marks (text and logo watermarks): the long side (px) of the copy they are searched on, the
#: share of the width and height from each corner searched, the side of the opening / closing whose
#: residue are the strokes, the least stroke contrast (grey levels), the glyph sizes (px; the
#: tallest as a share of the corner), and what a text line must show: glyphs, near-constant stroke
#: width (coefficient of variation), a shared baseline (median deviation, glyph heights), length
#: (width / height) and quiet rows above and below (glyph density there relative to the line's).
MARK_SIDE = 768


MARK_CORNER_SHARE = 0.25


MARK_STROKE_WINDOW = 7


MARK_STROKE_CONTRAST = 28.0


MARK_GLYPH_HEIGHT = (4, 0.4)


MARK_MIN_GLYPHS = 5


MARK_STROKE_SPREAD = 0.3


MARK_BASELINE_SPREAD = 0.1


MARK_MIN_LENGTH = 3.0


MARK_QUIET = 0.5


def corner_marks(image_rgb: np.ndarray, *, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Text and logo watermarks in the corners of a photo: ``[N, 4]`` float xyxy px (may be empty).

    ``image_rgb``: uint8 ``[H, W, 3]`` (``image_size``: ``(W, H)`` of the full image when it is a
    reduced copy; boxes are then in full pixels). The image is reduced to at most
    :data:`MARK_SIDE` px, and the :data:`MARK_CORNER_SHARE` of its width and height from each
    corner is searched for text lines: strokes are the thin bright (or dark) residue of a grey
    opening (closing) above :data:`MARK_STROKE_CONTRAST`, no more colourful than what surrounds
    them (overlaid text is white, black or a see-through mix of them); glyphs are their small,
    thin components; a line is a chain of at least :data:`MARK_MIN_GLYPHS` glyphs of similar height
    side by side on one baseline, with near-constant stroke width, at least
    :data:`MARK_MIN_LENGTH` times as long as it is high, and with quiet rows above and below.
    Lines close to each other on one baseline (words) are merged into one box.
    """
    arr = check_image(image_rgb)
    height, width = arr.shape[:2]
    rgb = arr
    if max(width, height) > MARK_SIDE:  # text is thin: an exact reduction keeps more of it
        scale = MARK_SIDE / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BOX))
    h, w = rgb.shape[:2]
    cw, ch = max(1, round(w * MARK_CORNER_SHARE)), max(1, round(h * MARK_CORNER_SHARE))
    origins = [(x0, y0) for x0 in sorted({0, w - cw}) for y0 in sorted({0, h - ch})]
    corners = np.stack([rgb[y0:y0 + ch, x0:x0 + cw] for x0, y0 in origins])  # [n, ch, cw, 3]
    # Pillow's luma, pixel by pixel: of the corners only, as one tall image.
    luma = np.asarray(Image.fromarray(corners.reshape(-1, cw, 3)).convert("L")).reshape(corners.shape[:3])
    per_corner = _text_lines(corners, luma)
    found = [line + np.array([x0, y0, x0, y0]) for (x0, y0), lines in zip(origins, per_corner) for line in lines]
    full_w, full_h = image_size if image_size is not None else (width, height)
    lines = _merge_lines(np.array(found, dtype=np.float64).reshape(-1, 4))
    return lines * np.array([full_w / w, full_h / h] * 2)


def _text_lines(rgb: np.ndarray, luma: np.ndarray) -> list[list[np.ndarray]]:
    """Text lines in each corner of a stack: ``rgb`` uint8 ``[n, h, w, 3]`` and its luma ``[n, h, w]``
    → for each corner, a list of ``[4]`` xyxy px of the corner. The filters run on the whole stack
    at once (a window never spans two corners), the text lines are looked for in each corner."""
    high, low = channel_extremes(rgb)
    chroma = high - low
    size = (1, MARK_STROKE_WINDOW, MARK_STROKE_WINDOW)
    # A see-through white or black overlay lowers the colourfulness of what it covers.
    # chroma <= max(0.8 * around, 24) in integers (exact for uint8: 0.8 * around is never within
    # float rounding of an integer it is not).
    plain = (5 * chroma.astype(np.int16) <= 4 * ndimage.maximum_filter(chroma, size).astype(np.int16)) | (chroma <= 24)
    signed = luma.astype(np.int16)  # uint8 throughout: the rank filters are the cost
    residues = (signed - ndimage.grey_opening(luma, size), ndimage.grey_closing(luma, size) - signed)
    strokes = [plain & (residue > MARK_STROKE_CONTRAST) for residue in residues]
    # Each corner's bright strokes, then its dark ones: one labelling for all (_Components).
    found = _Components(np.stack([bright_or_dark[i] for i in range(len(rgb)) for bright_or_dark in strokes]))
    return [[line for mask in (2 * i, 2 * i + 1) for line in _lines_of(found, mask)] for i in range(len(rgb))]


class _Components:
    """The stroke components of a stack of masks ``[m, h, w]`` bool, labelled in one pass: the masks
    are stacked one above the other with a blank row between them, so no component spans two, and
    each mask's components are a run of the labels (numbered in raster order). Per component
    (``[count]``, in mask px): ``y0, x0, y1, x1`` (end exclusive), ``area``, ``thickness`` (area
    over rim pixels: about half the stroke width); ``first [m + 1]``: mask ``j``'s components are
    ``first[j]:first[j + 1]``."""

    def __init__(self, masks: np.ndarray) -> None:
        m, h, w = masks.shape
        tall = np.zeros((m, h + 1, w), dtype=bool)
        tall[:, :h] = masks
        labels, count = ndimage.label(tall.reshape(m * (h + 1), w))
        self.masks, self.labels = masks, labels.reshape(m, h + 1, w)[:, :h]
        y0, self.x0, y1, self.x1 = ndimage.object_bounds(labels)
        of_mask = y0 // (h + 1)  # [count] the mask each component is in, ascending
        self.y0, self.y1 = y0 - of_mask * (h + 1), y1 - of_mask * (h + 1)
        self.first = np.searchsorted(of_mask, np.arange(m + 1))
        self.area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        padded = np.pad(tall.reshape(m * (h + 1), w), 1)
        inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        rim = np.bincount(labels[padded[1:-1, 1:-1] & ~inner], minlength=count + 1)[1:]
        self.thickness = self.area / np.maximum(rim, 1)


def _lines_of(found: _Components, mask: int) -> list[np.ndarray]:
    """Text lines among the stroke components of mask ``mask`` of ``found`` → ``[4]`` xyxy px
    each, in that mask's pixels."""
    start, stop = found.first[mask], found.first[mask + 1]
    if stop - start < MARK_MIN_GLYPHS:
        return []
    part = slice(start, stop)
    y0, x0, y1, x1 = found.y0[part], found.x0[part], found.y1[part], found.x1[part]
    hs, ws = y1 - y0, x1 - x0
    area, thickness = found.area[part], found.thickness[part]
    strokes = found.masks[mask]
    fill = area / (hs * ws)
    low, high = MARK_GLYPH_HEIGHT
    glyph = ((hs >= low) & (hs <= max(2 * low, high * strokes.shape[0])) & (ws <= 4 * hs)
             & (fill >= 0.12) & (fill <= 0.8) & (thickness <= 3.0) & (area >= 8))
    idx = np.flatnonzero(glyph)
    if idx.size < MARK_MIN_GLYPHS:
        return []
    gy0, gy1, gx0, gx1, gh = y0[idx], y1[idx], x0[idx], x1[idx], hs[idx]
    overlap = np.minimum(gy1[:, None], gy1[None]) - np.maximum(gy0[:, None], gy0[None])
    shorter, taller = np.minimum(gh[:, None], gh[None]), np.maximum(gh[:, None], gh[None])
    gap = np.maximum(gx0[None] - gx1[:, None], gx0[:, None] - gx1[None])
    linked = (overlap >= 0.6 * shorter) & (taller <= 2 * shorter) & (gap <= 0.8 * taller) & (gap >= -1)
    first, second = np.nonzero(np.triu(linked, 1))
    roots = ndimage.join_pairs(idx.size, first, second)
    chains = np.flatnonzero(np.bincount(roots) >= MARK_MIN_GLYPHS)  # roots of chains long enough
    if not chains.size:
        return []
    glyph_map = glyph[np.maximum(found.labels[mask] - 1 - start, 0)] & strokes
    lines = []
    for root in chains:
        members = roots == root
        box = np.array([gx0[members].min(), gy0[members].min(), gx1[members].max(), gy1[members].max()])
        line_h = box[3] - box[1]
        stroke = thickness[idx][members]
        bottoms, typical = gy1[members], median(gh[members])
        if (stroke.std() > MARK_STROKE_SPREAD * stroke.mean()
                or median(np.abs(bottoms - median(bottoms))) > MARK_BASELINE_SPREAD * typical
                or box[2] - box[0] < MARK_MIN_LENGTH * line_h):
            continue
        density = glyph_map[box[1]:box[3], box[0]:box[2]].mean()
        around = [band.mean() for band in (glyph_map[max(0, box[1] - line_h):box[1], box[0]:box[2]],
                                           glyph_map[box[3]:box[3] + line_h, box[0]:box[2]]) if band.size]
        if around and max(around) > MARK_QUIET * density:
            continue
        lines.append(box.astype(np.float64))
    return lines


def _merge_lines(lines: np.ndarray) -> np.ndarray:
    """Lines ``[L, 4]`` that overlap or sit side by side on one baseline (words of one text, or the
    same text found bright and dark) → their union boxes ``[M, 4]``."""
    if len(lines) < 2:
        return lines
    hs = lines[:, 3] - lines[:, 1]
    overlap = np.minimum(lines[:, None, 3], lines[None, :, 3]) - np.maximum(lines[:, None, 1], lines[None, :, 1])
    gap = np.maximum(lines[None, :, 0] - lines[:, None, 2], lines[:, None, 0] - lines[None, :, 2])
    near = (overlap >= 0.5 * np.minimum(hs[:, None], hs[None])) & (gap <= 1.5 * np.maximum(hs[:, None], hs[None]))
    first, second = np.nonzero(np.triu(near, 1))
    roots = ndimage.join_pairs(len(lines), first, second)
    return np.array([B.union_box(lines[roots == root]) for root in unique(roots)])
