"""Regions read off a saliency map: the salient region a crop must keep (faces and people always in
it) and the core of the subject (head and shoulders) for tighter framings. Boxes are ``[4]`` xyxy px.
"""

from __future__ import annotations

import numpy as np

import promptcrop.saliency.ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop import boxes as B
from promptcrop.saliency.grid import otsu_level
from promptcrop.saliency.map import SaliencyMap

#: The salient region is the union of the strong blobs (peak at least :data:`BLOB_MIN_PEAK` of the
#: map's) holding :data:`REGION_MASS` of the saliency above the threshold: a subject seen as
#: several blobs (a person and their dog, a group, the parts of a machine) is kept as a whole.
REGION_MASS = 0.9


BLOB_MIN_PEAK = 0.3


def salient_region(
    sal: SaliencyMap,
    *,
    mass: float = REGION_MASS,
    threshold: float | None = None,
    min_peak: float = BLOB_MIN_PEAK,
) -> np.ndarray:
    """The box the offline mode must keep: ``float [4]`` xyxy px of the full image.

    The map is split into connected blobs above ``threshold`` (default: Otsu's threshold, and never
    below a quarter of the peak). Blobs whose own peak reaches ``min_peak`` × the map's peak are
    taken in order of their saliency mass *above the threshold* until they hold ``mass`` of it (so
    a strong subject is not diluted by many faint texture blobs, while several strong objects are
    all kept). The result is the bounding box of those blobs grown by one map pixel (a margin
    against the blur of the map), united with the map's ``faces`` and ``people`` (a person is never
    left out). A map with no saliency gives the whole image (its ``content`` box when frame
    artefacts were found).
    """
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    if not 0.0 <= min_peak <= 1.0:
        raise ValueError(f"min_peak must be in [0, 1], got {min_peak}")
    width, height = sal.image_size
    values = sal.values
    if np.ptp(values) <= 1e-6:
        return sal.content.copy()
    level = otsu_level(values) if threshold is None else float(threshold)
    labels, count = ndimage.label(values > level)
    if count == 0:
        return sal.content.copy()
    ids = np.arange(1, count + 1)
    excess = ndimage.sum_labels(values - level, labels, index=ids)  # [count]
    strong = ndimage.maximum(values, labels, index=ids) >= min_peak * float(values.max())
    excess = np.where(strong, excess, 0.0)
    order = np.argsort(-excess, kind="stable")
    cumulative = np.cumsum(excess[order]) / excess.sum()
    chosen = ids[order[: int(np.searchsorted(cumulative, mass - 1e-9)) + 1]]
    ys, xs = np.nonzero(np.isin(labels, chosen))
    h, w = values.shape
    grid_box = np.array([xs.min() - 1, ys.min() - 1, xs.max() + 2, ys.max() + 2], dtype=np.float64)
    grid_box = B.clamp_xyxy(grid_box, w, h)
    sx, sy = sal.scale
    box = grid_box / np.array([sx, sy, sx, sy])
    extra = np.concatenate([sal.faces, sal.people])
    if len(extra) == 0:
        return box
    return B.clamp_xyxy(B.union_box(np.concatenate([box[None], extra])), width, height)


def core_region(sal: SaliencyMap, *, level: float = 0.6) -> np.ndarray:
    """The heart of the subject: ``float [4]`` xyxy px, the box of the connected part of the map
    above ``level`` × its peak that holds the peak (grown by one map pixel), united with the
    map's ``faces``. Tighter framings are built around it. A flat map gives its ``content`` box.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = sal.values
    if np.ptp(values) <= 1e-6:
        return sal.content.copy()
    labels, _ = ndimage.label(values >= level * float(values.max()))
    peak = labels.flat[int(np.argmax(values))]
    ys, xs = np.nonzero(labels == peak)
    h, w = values.shape
    grid_box = B.clamp_xyxy(np.array([xs.min() - 1, ys.min() - 1, xs.max() + 2, ys.max() + 2], float), w, h)
    sx, sy = sal.scale
    box = grid_box / np.array([sx, sy, sx, sy])
    if len(sal.faces):
        box = B.union_box(np.concatenate([box[None], sal.faces]))
    return B.clamp_xyxy(box, *sal.image_size)


def clear_of_marks(region: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """The region ``[4]`` without the corner marks ``[M, 4]`` it overlaps (watermarks, corner text:
    never part of a subject): for each, the region is cut along the one side that keeps the most of
    it (a mark in the top-left corner costs the region a strip at its top or at its left). A box
    around a person may reach into a corner that holds a mark; a crop can then still leave it out.
    Boxes are xyxy px."""
    out = np.asarray(region, dtype=np.float64).copy()
    for mark in np.asarray(marks, dtype=np.float64).reshape(-1, 4):
        if B.box_coverage(out[None], mark[None])[0, 0] <= 0.0:
            continue
        cuts = np.array([
            [mark[2], out[1], out[2], out[3]],  # keep what is right of the mark
            [out[0], out[1], mark[0], out[3]],  # left of it
            [out[0], mark[3], out[2], out[3]],  # below it
            [out[0], out[1], out[2], mark[1]],  # above it
        ])
        areas = np.where((cuts[:, 2:] > cuts[:, :2]).all(axis=-1), B.box_area(cuts), 0.0)
        if areas.max() > 0:
            out = cuts[int(np.argmax(areas))]
    return out
