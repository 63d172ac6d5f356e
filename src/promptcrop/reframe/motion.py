"""What moved between two frames of a shot: a cue for the offline subject of a keyframe.

A still photo's saliency cannot see a small ball bouncing across a plain board, or a rocket's
smoke rising beside the dark tower that the map prefers. The keyframe is compared with the frame
:data:`MOTION_GAP` frames before it, both as grey copies :data:`MOTION_WIDTH` px wide: the global
shift between them (a pan) is found by phase correlation and undone, and the absolute difference
that remains, blurred, is what moved (:func:`motion_map`). It is a cue where little of the frame
moves (:data:`MOVING_SHARE`): a small thing moving in a still scene is what the shot is about.
Where more moves (up to :data:`COMPACT_SHARE`), it is a cue only when the camera is still and
the motion is one compact region (:data:`COMPACT_PART`, :data:`COMPACT_BOX`), and then only that
region: a figure walking through a wide scene, a hand bringing an object close. Motion spread over
the frame — titles sweeping past, particles, a zoom, a cut between the two frames — or over much
of it says nothing about where to look. Almost no motion (noise) is no cue either.

The map is added to the offline mode's saliency cues (:func:`promptcrop.saliency.map.compute_saliency`,
``motion``); the query modes ground the query instead and do not read it. docs/REFRAME.md
("Twenty-first pass"; "Twenty-second pass" for the compact mover) has what it changed, measured.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

import promptcrop.saliency.ndimage_lite as ndimage

#: Width (px) of the grey copies compared; their height keeps the frame's aspect.
MOTION_WIDTH = 160
#: The keyframe is compared with the frame this many frames before it.
MOTION_GAP = 2
#: Grey levels (0–255) of remaining difference from which a pixel counts as moving (half the
#: cue's full strength, ``CUE_FLOORS["motion"]`` of :mod:`promptcrop.saliency.cues`).
MOVING_LEVEL = 6.0
#: The map is a cue when the share of moving pixels is within this range ...
MOVING_SHARE = (0.002, 0.05)
#: ... or, from a still camera (no global shift), when it is at most this share and one connected
#: region holds at least :data:`COMPACT_PART` of the moving pixels within a bounding box of at most
#: :data:`COMPACT_BOX` of the frame: then that region alone is the cue.
COMPACT_SHARE = 0.35
COMPACT_PART = 0.9
COMPACT_BOX = 0.4
#: Pixels along each side left out of the difference beyond those the shift uncovers (resampling
#: at the borders).
BORDER_PX = 2
#: Blur (px of the grey copy) of the difference.
BLUR_SIGMA = 1.5


def grey_copy(rgb: np.ndarray) -> np.ndarray:
    """A frame (uint8 ``[H, W, 3]``) as float32 grey ``[h, MOTION_WIDTH]`` (box-filtered), the
    aspect kept."""
    image = Image.fromarray(rgb).convert("L")
    height = max(1, round(image.height * MOTION_WIDTH / image.width))
    return np.asarray(image.resize((MOTION_WIDTH, height), Image.Resampling.BOX), dtype=np.float32)


def global_shift(current: np.ndarray, previous: np.ndarray) -> tuple[int, int]:
    """``(dy, dx)`` px rolling ``previous`` (grey ``[h, w]``) by which best matches ``current``
    (phase correlation, whole pixels)."""
    spectrum = np.fft.rfft2(current - current.mean()) * np.conj(np.fft.rfft2(previous - previous.mean()))
    spectrum /= np.abs(spectrum) + 1e-6
    peak = np.fft.irfft2(spectrum, current.shape)
    dy, dx = np.unravel_index(int(np.argmax(peak)), peak.shape)
    height, width = current.shape
    return int(dy - height if dy > height // 2 else dy), int(dx - width if dx > width // 2 else dx)


def motion_map(current: np.ndarray, previous: np.ndarray) -> np.ndarray | None:
    """What moved from ``previous`` to ``current`` (uint8 ``[H, W, 3]`` frames of the same size):
    float32 ``[h, MOTION_WIDTH]`` grey levels of difference after the global shift, blurred — all
    of it when the moving pixels (:data:`MOVING_LEVEL`) are within :data:`MOVING_SHARE` of the
    frame, only the compact moving region of a still camera up to :data:`COMPACT_SHARE`
    (:func:`compact_mover`); None otherwise, or when the frames differ in size."""
    if current.shape != previous.shape:
        return None
    now, before = grey_copy(current), grey_copy(previous)
    dy, dx = global_shift(now, before)
    difference = np.abs(now - np.roll(before, (dy, dx), axis=(0, 1)))
    height, width = difference.shape
    top, bottom = max(dy, 0) + BORDER_PX, height + min(dy, 0) - BORDER_PX
    left, right = max(dx, 0) + BORDER_PX, width + min(dx, 0) - BORDER_PX
    if bottom <= top or right <= left:
        return None
    inside = np.zeros_like(difference)
    inside[top:bottom, left:right] = difference[top:bottom, left:right]
    blurred = ndimage.gaussian_filter(inside, BLUR_SIGMA)
    moving = blurred > MOVING_LEVEL
    share = float(moving.mean())
    low, high = MOVING_SHARE
    if low <= share <= high:
        return blurred.astype(np.float32)
    if high < share <= COMPACT_SHARE and (dy, dx) == (0, 0):
        region = compact_mover(moving)
        if region is not None:
            return np.where(region, blurred, 0.0).astype(np.float32)
    return None


def compact_mover(moving: np.ndarray) -> np.ndarray | None:
    """The one connected region (bool ``[h, w]``) of the ``moving`` pixels (bool ``[h, w]``) holding
    at least :data:`COMPACT_PART` of them within a bounding box of at most :data:`COMPACT_BOX` of
    the frame, or None."""
    labels, count = ndimage.label(moving)
    if not count:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    largest = int(np.argmax(sizes)) + 1
    if sizes[largest - 1] < COMPACT_PART * moving.sum():
        return None
    region = labels == largest
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
    return region if box <= COMPACT_BOX * moving.size else None
