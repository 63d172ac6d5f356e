"""The few ``scipy.ndimage`` / ``skimage`` operations the offline saliency uses, in plain NumPy.

Why: importing ``scipy.ndimage`` (or ``scipy.fft``, or ``skimage.filters``) costs a fresh process
more than the whole offline crop — scipy loads its array-API layer, which imports most of NumPy's
optional submodules — while the offline mode's maps are at most 128 px on a side (figures in
docs/BENCHMARKS.md, cold start). With these, a one-photo ``promptcrop crop --offline`` starts as fast as NumPy and
Pillow do. The functions keep the scipy / scikit-image names, arguments and results (the tests
compare them with the originals on random inputs); only what saliency needs is here:

- separable filters: :func:`correlate1d`, :func:`gaussian_filter`, :func:`uniform_filter`,
  :func:`sobel`, :func:`laplace` (boundary modes ``reflect``, ``nearest``, ``mirror``, ``wrap``, ``constant`` 0);
- morphology: :func:`grey_opening` with a rectangular ``size``, :func:`binary_opening` with the
  4-connected cross;
- connected components: :func:`label` (4-connected, numbered in raster order of their first
  pixel, as scipy does), :func:`find_objects`, :func:`sum_labels`, :func:`maximum`;
- :func:`threshold_otsu` (scikit-image's, 256 bins).

All arrays are 2-D maps ``[h, w]``; a filter's output has the input's dtype (float maps), as
scipy's does.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

import numpy as np

# scipy.ndimage boundary mode -> numpy.pad mode.
_PAD_MODES = {"reflect": "symmetric", "nearest": "edge", "mirror": "reflect", "wrap": "wrap", "constant": "constant"}


# ---------------------------------------------------------------------------- separable filters


def _check_mode(mode: str) -> str:
    if mode not in _PAD_MODES:
        raise ValueError(f"mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    return _PAD_MODES[mode]


@functools.lru_cache(maxsize=512)
def _pad_index(length: int, before: int, after: int, pad_mode: str) -> np.ndarray:
    """The source index ``[before + length + after]`` of each sample of an axis of ``length``
    padded as ``numpy.pad(..., mode=pad_mode)`` pads it (not ``constant``); read-only, shared."""
    i = np.arange(-before, length + after)
    if pad_mode == "edge":
        index = np.clip(i, 0, length - 1)
    elif pad_mode == "wrap":
        index = i % length
    elif pad_mode == "symmetric":  # ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...
        j = i % (2 * length)
        index = np.where(j < length, j, 2 * length - 1 - j)
    elif length == 1:  # "reflect" of one sample: itself
        index = np.zeros_like(i)
    else:  # "reflect": ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ...
        j = i % (2 * length - 2)
        index = np.where(j < length, j, 2 * length - 2 - j)
    index.flags.writeable = False
    return index


def _pad_axis(values: np.ndarray, axis: int, before: int, after: int, pad_mode: str) -> np.ndarray:
    """``values`` padded along ``axis`` only, as ``numpy.pad`` would pad it (a gather through a
    cached index: ``numpy.pad``'s own set-up costs more than the copy on these small maps)."""
    if pad_mode == "constant" or values.shape[axis] == 0:  # numpy.pad's own answer (an error when empty)
        widths = [(0, 0)] * values.ndim
        widths[axis] = (before, after)
        return np.pad(values, widths, mode=pad_mode)
    # whole numbers as the cache key (1 and 1.0 are one key to lru_cache; numpy.pad refuses 1.0)
    before, after = operator.index(before), operator.index(after)
    return np.take(values, _pad_index(values.shape[axis], before, after, pad_mode), axis=axis)


def correlate1d(values: np.ndarray, weights: Sequence[float], axis: int = -1, mode: str = "reflect") -> np.ndarray:
    """Correlate ``values`` with an odd-length 1-D kernel centred on each sample, along ``axis``.

    ``out[i] = sum_j weights[j] * values[i + j - r]`` with ``r = len(weights) // 2``; samples past
    the border come from ``mode`` (``constant`` pads with 0). Computed in float64, returned in
    ``values``' dtype when it is a float type (else float64).
    """
    values = np.asarray(values)
    kernel = np.asarray(weights, dtype=np.float64)
    if kernel.ndim != 1 or kernel.size % 2 == 0:
        raise ValueError(f"weights must be a 1-D kernel of odd length, got shape {kernel.shape}")
    pad_mode = _check_mode(mode)
    axis = axis % values.ndim
    radius = kernel.size // 2
    padded = _pad_axis(values.astype(np.float64, copy=False), axis, radius, radius, pad_mode)
    length = values.shape[axis]
    out = np.zeros(values.shape, dtype=np.float64)
    window = [slice(None)] * values.ndim
    for j, weight in enumerate(kernel):
        if weight != 0.0:
            window[axis] = slice(j, j + length)  # a view, no copy
            out += weight * padded[tuple(window)]
    dtype = values.dtype if np.issubdtype(values.dtype, np.floating) else np.float64
    return out.astype(dtype, copy=False)


def gaussian_filter(values: np.ndarray, sigma: float, mode: str = "reflect", truncate: float = 4.0) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` (samples) along every axis, the kernel cut at
    ``truncate`` standard deviations (as ``scipy.ndimage.gaussian_filter``)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 / (float(sigma) * float(sigma)) * x * x)
    kernel /= kernel.sum()
    out = np.asarray(values)
    for axis in range(out.ndim):
        out = correlate1d(out, kernel, axis, mode)
    return out


def uniform_filter(values: np.ndarray, size: int = 3, mode: str = "reflect") -> np.ndarray:
    """Mean over a ``size``-wide window (odd) centred on each sample, along every axis."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd number, got {size}")
    out = np.asarray(values)
    for axis in range(out.ndim):
        out = correlate1d(out, np.full(size, 1.0 / size), axis, mode)
    return out


def sobel(values: np.ndarray, axis: int = -1, mode: str = "reflect") -> np.ndarray:
    """Sobel derivative along ``axis``: ``[-1, 0, 1]`` there, ``[1, 2, 1]`` smoothing across."""
    out = correlate1d(values, (-1.0, 0.0, 1.0), axis, mode)
    for other in range(out.ndim):
        if other != axis % out.ndim:
            out = correlate1d(out, (1.0, 2.0, 1.0), other, mode)
    return out


# ---------------------------------------------------------------------------- morphology


def laplace(values: np.ndarray, mode: str = "reflect") -> np.ndarray:
    """Discrete Laplacian: the sum over both axes of the ``[1, -2, 1]`` second difference
    (``scipy.ndimage.laplace``; the output has the input's dtype)."""
    values = np.asarray(values)
    total = sum(correlate1d(values, (1.0, -2.0, 1.0), axis=axis, mode=mode) for axis in range(values.ndim))
    return np.asarray(total, dtype=values.dtype)


def _rank_filter(values: np.ndarray, size: Sequence[int], reduce: np.ufunc) -> np.ndarray:
    """Running ``reduce`` (min or max) over a centred ``size`` window (odd sides), border by
    repeating the edge (for odd windows, what scipy's ``reflect`` gives)."""
    out = np.asarray(values)
    for axis, side in enumerate(size):
        if side < 1 or side % 2 == 0:
            raise ValueError(f"window sides must be positive odd numbers, got {tuple(size)}")
        radius = side // 2
        if radius == 0:
            continue
        moved = np.moveaxis(_pad_axis(out, axis, radius, radius, "edge"), axis, 0)
        length = out.shape[axis]
        # running[j] reduces moved[j : j + span]; each pass doubles span (min and max are idempotent,
        # so two overlapping windows of span then cover the side exactly).
        running, span = moved, 1
        while 2 * span <= side:
            running = reduce(running[:-span], running[span:])
            span *= 2
        running = reduce(running[:length], running[side - span:side - span + length])  # span < side: odd
        out = np.moveaxis(running, 0, axis)
    return out


def grey_opening(values: np.ndarray, size: Sequence[int] = (3, 3)) -> np.ndarray:
    """Grey-level opening (minimum then maximum filter) over a ``size`` rectangle of odd sides."""
    if len(size) != np.ndim(values):
        raise ValueError(f"size must give one side per axis, got {tuple(size)} for {np.ndim(values)} axes")
    return _rank_filter(_rank_filter(values, size, np.minimum), size, np.maximum)


def minimum_filter(values: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Running minimum over a centred ``size`` rectangle of odd sides, border by repeating the
    edge (as ``scipy.ndimage.minimum_filter(values, size, mode="nearest")``)."""
    return _rank_filter(values, _sides(values, size), np.minimum)


def maximum_filter(values: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Running maximum over a centred ``size`` rectangle of odd sides, border by repeating the
    edge (as ``scipy.ndimage.maximum_filter(values, size, mode="nearest")``)."""
    return _rank_filter(values, _sides(values, size), np.maximum)


def grey_closing(values: np.ndarray, size: Sequence[int] = (3, 3)) -> np.ndarray:
    """Grey-level closing (maximum then minimum filter) over a ``size`` rectangle of odd sides."""
    size = _sides(values, size)
    return _rank_filter(_rank_filter(values, size, np.maximum), size, np.minimum)


def _sides(values: np.ndarray, size: Sequence[int]) -> tuple[int, ...]:
    if len(size) != np.ndim(values):
        raise ValueError(f"size must give one side per axis, got {tuple(size)} for {np.ndim(values)} axes")
    return tuple(int(side) for side in size)


def _cross_neighbours(mask: np.ndarray) -> list[np.ndarray]:
    """The mask and its four shifts by one pixel (outside the map counts as False)."""
    padded = np.pad(mask, 1, mode="constant", constant_values=False)
    return [padded[1:-1, 1:-1], padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]


def binary_opening(mask: np.ndarray) -> np.ndarray:
    """Binary opening of a 2-D mask with the 4-connected cross (one erosion, one dilation; pixels
    outside the map count as False), as ``scipy.ndimage.binary_opening(mask)``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    eroded = np.logical_and.reduce(_cross_neighbours(mask))
    return np.logical_or.reduce(_cross_neighbours(eroded))


# ---------------------------------------------------------------------------- connected components


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a 2-D mask: ``(labels int32 [h, w], count)``.

    Background is 0; components are numbered 1..count in raster order of their first pixel.
    Works on horizontal runs: runs of consecutive rows that overlap are joined (min-label hooking
    with path compression, all in NumPy), then each run is painted with its component's number.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    h, w = mask.shape
    framed = np.zeros((h, w + 2), dtype=np.int8)
    framed[:, 1:-1] = mask
    edges = framed[:, 1:] - framed[:, :-1]  # [h, w + 1]: 1 where a run starts, -1 where it has ended
    changes = np.flatnonzero(edges)  # raster order: each run's start, then its (exclusive) end
    labels = np.zeros((h, w), dtype=np.int32)
    if changes.size == 0:
        return labels, 0
    rows, cols = np.divmod(changes, w + 1)
    rows, starts, ends = rows[0::2], cols[0::2], cols[1::2]
    stride = w + 2
    start_keys, end_keys = rows * stride + starts, rows * stride + ends
    # Runs of the row above that overlap run b: start_a < end_b and end_a > start_b.
    above = rows - 1
    first = np.searchsorted(end_keys, above * stride + starts, side="right")
    stop = np.searchsorted(start_keys, above * stride + ends, side="left")
    counts = np.maximum(stop - first, 0)
    lower = np.repeat(np.arange(rows.size), counts)
    upper = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    roots = join_pairs(rows.size, upper, lower)
    # Each component's root is its first run: numbered by how many roots come up to it.
    is_root = roots == np.arange(rows.size)
    run_labels = np.cumsum(is_root, dtype=np.int32)[roots]
    paint = np.zeros((h, w + 1), dtype=np.int32)
    np.add.at(paint, (rows, starts), run_labels)
    np.add.at(paint, (rows, ends), -run_labels)
    # int32 throughout: cumsum would widen to int64, whose buffered cast costs more than the sum
    labels[:] = np.cumsum(paint, axis=1, dtype=np.int32)[:, :w]
    return labels, int(is_root.sum())


def join_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of ``n`` items over the pairs ``(a[i], b[i])``: each item's root, the smallest index
    of its component (``[n]`` int)."""
    parent = np.arange(n)
    a, b = np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp)
    while True:
        ra, rb = parent[a], parent[b]
        low, high = np.minimum(ra, rb), np.maximum(ra, rb)
        differ = low != high
        if not differ.any():
            return parent
        np.minimum.at(parent, high[differ], low[differ])
        while True:  # path compression until every item points at a root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def find_objects(labels: np.ndarray) -> list[tuple[slice, slice]]:
    """Bounding slices ``(rows, cols)`` of labels ``1..labels.max()`` (each must be present)."""
    r0, c0, r1, c1 = object_bounds(labels)
    return [(slice(int(a), int(c)), slice(int(b), int(d))) for a, b, c, d in zip(r0, c0, r1, c1)]


def object_bounds(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`find_objects` as arrays: first row, first column, end row, end column (exclusive)
    of labels ``1..labels.max()``, each ``[count]`` int (every label must be present)."""
    labels = np.asarray(labels)
    count = int(labels.max()) if labels.size else 0
    empty = np.zeros(0, dtype=np.intp)
    if count == 0:
        return empty, empty, empty, empty
    flat = np.flatnonzero(labels)  # as np.nonzero, in raster order, without its two index arrays' pass
    ys, xs = np.divmod(flat, labels.shape[1])
    ids = labels.ravel()[flat] - 1
    big = np.iinfo(np.intp).max
    bounds = [np.full(count, big), np.full(count, big), np.full(count, -1), np.full(count, -1)]
    np.minimum.at(bounds[0], ids, ys)
    np.minimum.at(bounds[1], ids, xs)
    np.maximum.at(bounds[2], ids, ys)
    np.maximum.at(bounds[3], ids, xs)
    if (bounds[2] < 0).any():
        raise ValueError("labels must be numbered 1..count without gaps")
    return bounds[0], bounds[1], bounds[2] + 1, bounds[3] + 1


def sum_labels(values: np.ndarray, labels: np.ndarray, index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each label in ``index`` (float64 ``[len(index)]``)."""
    labels = np.asarray(labels)
    index = np.asarray(index)
    size = max(int(labels.max(initial=0)), int(index.max(initial=0))) + 1
    sums = np.bincount(labels.ravel(), weights=np.asarray(values, dtype=np.float64).ravel(), minlength=size)
    return sums[index]


def maximum(values: np.ndarray, labels: np.ndarray, index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Largest of ``values`` over each label in ``index`` (``[len(index)]``, the values' dtype;
    every label asked for must be present)."""
    values, labels, index = np.asarray(values), np.asarray(labels), np.asarray(index)
    size = max(int(labels.max(initial=0)), int(index.max(initial=0))) + 1
    best = np.full(size, -np.inf)
    np.maximum.at(best, labels.ravel(), values.ravel().astype(np.float64))
    if np.isneginf(best[index]).any():
        raise ValueError("every label in index must be present")
    return best[index].astype(values.dtype)


# ---------------------------------------------------------------------------- thresholds


def threshold_otsu(values: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold of a float map on a ``nbins`` histogram of its range, as
    ``skimage.filters.threshold_otsu``: the centre of the bin that maximises the between-class
    variance (a constant map returns its value)."""
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        raise ValueError("threshold_otsu needs a non-empty map")
    if np.all(flat == flat[0]):
        return float(flat[0])
    counts, edges = np.histogram(flat, bins=nbins)
    counts = counts.astype(np.float32)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight1 = np.cumsum(counts)
    weight2 = np.cumsum(counts[::-1])[::-1]
    mean1 = np.cumsum(counts * centres) / weight1
    mean2 = (np.cumsum((counts * centres)[::-1]) / weight2[::-1])[::-1]
    variance12 = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return float(centres[int(np.argmax(variance12))])
