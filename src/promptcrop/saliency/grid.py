"""Array helpers shared by the saliency cues: reduced copies, normalisation, integral images, Lab.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image

from promptcrop.saliency.ndimage_lite import threshold_otsu

#: Long side (px) of the reduced copy the frame search and the in-focus cue work on.
WORK_SIDE = 384

#: Linear sRGB → CIE XYZ, Bradford-adapted to the D50 white of the ICC connection space (as
#: LittleCMS's built-in sRGB profile has it).
_SRGB_TO_XYZ_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                             [0.2225045, 0.7168786, 0.0606169],
                             [0.0139322, 0.0971045, 0.7141733]])
#: The same with each row divided by its sum, the white's X, Y or Z (D50 up to the matrix's
#: rounding, so that sRGB white is exactly neutral), and transposed: ``linear @`` it gives
#: ``X / Xn, Y / Yn, Z / Zn``.
_SRGB_TO_XYZ_OVER_WHITE = (_SRGB_TO_XYZ_D50 / _SRGB_TO_XYZ_D50.sum(axis=1, keepdims=True)).T.astype(np.float32)

#: CIE Lab's f(t): the cube root above (6/29)^3, a line below it.
_LAB_EPSILON, _LAB_SLOPE = (6 / 29) ** 3, 1 / (3 * (6 / 29) ** 2)


@functools.cache
def _srgb_linear() -> np.ndarray:
    """sRGB's transfer function inverted, per 8-bit value: float32 ``[256]`` in [0, 1]."""
    level = np.arange(256) / 255.0
    return np.where(level <= 0.04045, level / 12.92, ((level + 0.055) / 1.055) ** 2.4).astype(np.float32)


def clip_to(boxes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Boxes ``[N, 4]`` clipped to the ``[4]`` bounds box (xyxy px)."""
    low, high = np.tile(bounds[:2], 2), np.tile(bounds[2:], 2)
    return np.clip(boxes, low, high).reshape(-1, 4)


def check_image(image_rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(image_rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected an RGB image array [H, W, 3], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def reduce(image: Image.Image, max_side: int) -> Image.Image:
    """Box-filter reduction by an integer factor so that the long side is ≤ ``max_side``."""
    factor = math.ceil(max(image.size) / max_side)
    return image.reduce(factor) if factor > 1 else image


def at_least(image: Image.Image, side: int) -> Image.Image:
    """Box-filter reduction by the largest integer factor that leaves the long side ≥ ``side``
    (never enlarged)."""
    factor = max(1, max(image.size) // side)
    return image.reduce(factor) if factor > 1 else image


def resize_map(values: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to ``(w, h)``."""
    if values.shape[::-1] == tuple(size_wh):
        return values
    return np.asarray(Image.fromarray(values.astype(np.float32)).resize(size_wh, Image.Resampling.BILINEAR))


def blur_sigma(shape: tuple[int, ...]) -> float:
    """Blur radius of the final map: about 1 % of the long side."""
    return max(max(shape) / 100.0, 0.5)


def quantile(values: np.ndarray, q: float, axis: int | None = None) -> np.ndarray | float:
    """``np.quantile(values, q, axis=axis)`` (linear interpolation) for NaN-free values, through
    ``np.partition``: NumPy's own median, percentile and quantile import ``numpy.ma`` for their NaN
    check, a cost on every process start (docs/BENCHMARKS.md, cold start). Integer input gives
    float64, like NumPy's."""
    data = np.asarray(values)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    if axis is None:
        data, axis = data.ravel(), 0
    position = q * (data.shape[axis] - 1)
    low, high = math.floor(position), math.ceil(position)
    ordered = np.partition(data, (low, high), axis=axis)
    below, above = ordered.take(low, axis=axis), ordered.take(high, axis=axis)
    result = below + (above - below) * (position - low)
    return float(result) if result.ndim == 0 else result


def median(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """``np.median`` for NaN-free values without its ``numpy.ma`` import (:func:`quantile`)."""
    return quantile(values, 0.5, axis=axis)


def unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` (sorted distinct values) without the ``numpy.ma`` import its plain
    form makes (asking for the inverse skips that check; see :func:`quantile`)."""
    return np.unique(values, return_inverse=True)[0]


def channel_extremes(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(max, min)`` over the colour channels of ``pixels`` ``[..., 3]`` → two ``[...]`` arrays of
    its dtype: as ``max(axis=-1)`` / ``min(axis=-1)``, without their slow reduction over 3 values."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)


def channel_mean(pixels: np.ndarray) -> np.ndarray:
    """The mean over the colour channels of float ``pixels`` ``[..., 3]`` → ``[...]``: as
    ``mean(axis=-1)`` (exactly, for whole grey levels: their sum is exact) without its slow
    reduction over 3 values."""
    return (pixels[..., 0] + pixels[..., 1] + pixels[..., 2]) / 3


def normalise(values: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Scale to [0, 1] by ``max(maximum, floor)``; float32."""
    values = np.asarray(values, dtype=np.float32)
    return np.clip(values / max(float(values.max()), floor), 0.0, 1.0)


def to_lab(image: Image.Image) -> np.ndarray:
    """CIE Lab (D50 white, as the ICC connection space) of an sRGB image, float32 ``[h, w, 3]``
    (L in [0, 100], a and b signed).

    Computed here rather than by Pillow's ``ImageCms``: building its transform costs a process
    start several milliseconds, more than the cues' small copies take to convert, and its 8-bit
    Lab would round the result.
    """
    linear = _srgb_linear()[np.asarray(image.convert("RGB"))]  # [h, w, 3]
    ratio = linear @ _SRGB_TO_XYZ_OVER_WHITE  # X / Xn, Y / Yn, Z / Zn
    f = np.where(ratio > _LAB_EPSILON, np.cbrt(ratio), ratio * _LAB_SLOPE + 4 / 29)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1).astype(np.float32)


def otsu_level(values: np.ndarray) -> float:
    """Otsu's threshold of the map, floored at a quarter of its peak."""
    return max(threshold_otsu(values), 0.25 * float(values.max()))


def integral(values: np.ndarray) -> np.ndarray:
    """Summed-area table ``[h + 1, w + 1]`` (float64) with a zero first row and column."""
    h, w = values.shape
    sat = np.zeros((h + 1, w + 1), dtype=np.float64)
    # Down the columns as along the rows of the transposed copy: the same sums in the same order,
    # without NumPy's slow running sum across rows.
    sat[1:, 1:] = np.ascontiguousarray(values.T, dtype=np.float64).cumsum(axis=1).T.cumsum(axis=1)
    return sat


def _integral_at(sat: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear read of a summed-area table at fractional grid points (clipped to the map).

    Exact for the piecewise-constant map: the integral up to a fractional point is bilinear
    inside a cell.
    """
    rows, cols = sat.shape  # both >= 2: the map is never empty
    x = np.minimum(np.maximum(x, 0.0), cols - 1)  # np.clip, without its call overhead
    y = np.minimum(np.maximum(y, 0.0), rows - 1)
    x0 = np.minimum(x.astype(np.intp), cols - 2)  # x >= 0, so truncation is floor
    y0 = np.minimum(y.astype(np.intp), rows - 2)
    fx, fy = x - x0, y - y0
    flat = sat.ravel()
    corner = y0 * cols + x0
    top = np.take(flat, corner) * (1 - fx) + np.take(flat, corner + 1) * fx
    bottom = np.take(flat, corner + cols) * (1 - fx) + np.take(flat, corner + cols + 1) * fx
    return top * (1 - fy) + bottom * fy


def box_sums(sat: np.ndarray, boxes_grid: np.ndarray) -> np.ndarray:
    """Sum of the map inside each ``[N, 4]`` xyxy grid box (outside the map counts as zero)."""
    x1, y1, x2, y2 = boxes_grid[:, 0], boxes_grid[:, 1], boxes_grid[:, 2], boxes_grid[:, 3]
    total = (
        _integral_at(sat, x2, y2)
        - _integral_at(sat, x1, y2)
        - _integral_at(sat, x2, y1)
        + _integral_at(sat, x1, y1)
    )
    return np.maximum(total, 0.0)


def box_window(box: np.ndarray, rows: int, columns: int) -> tuple[slice, slice]:
    """The cells of a ``rows`` × ``columns`` grid under ``box`` ``[4]`` (xyxy, grid units): every
    cell it touches, at least one, inside the grid; ``(row slice, column slice)``."""
    x1 = min(max(int(box[0]), 0), columns - 1)
    y1 = min(max(int(box[1]), 0), rows - 1)
    return slice(y1, max(int(np.ceil(box[3])), y1 + 1)), slice(x1, max(int(np.ceil(box[2])), x1 + 1))
