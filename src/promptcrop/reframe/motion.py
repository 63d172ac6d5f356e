"""What moved between two frames of a shot: a cue for the offline subject of a keyframe.

A still photo's saliency cannot see a small ball bouncing across a plain board, or a rocket's
smoke rising beside the dark tower that the map prefers. The keyframe is compared with the frame
:data:`MOTION_GAP` frames before it, both as grey copies :data:`MOTION_WIDTH` px wide: the global
shift between them (a pan) is found by phase correlation and undone, and the absolute difference
that remains, blurred, is what moved (:func:`motion_map`). It is a cue only where little of the
frame moves (:data:`MOVING_SHARE`): a small thing moving in a still scene is what the shot is
about, while motion over much of the frame — an animal close to the camera, titles sweeping past,
a zoom, a cut between the two frames — says nothing about where to look. Almost no motion (noise)
is no cue either.

The map is added to the offline mode's saliency cues (:func:`promptcrop.saliency.map.compute_saliency`,
``motion``); the query modes ground the query instead and do not read it. docs/REFRAME.md
("Twenty-first pass") has what it changed, measured.
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
#: The map is a cue only when the share of moving pixels is within this range.
MOVING_SHARE = (0.002, 0.05)
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
    float32 ``[h, MOTION_WIDTH]`` grey levels of difference after the global shift, blurred; None
    when the moving pixels (:data:`MOVING_LEVEL`) are outside :data:`MOVING_SHARE` of the frame,
    or the frames differ in size."""
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
    share = float((blurred > MOVING_LEVEL).mean())
    low, high = MOVING_SHARE
    return blurred.astype(np.float32) if low <= share <= high else None
