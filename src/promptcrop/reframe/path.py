"""The camera path: one fixed-size crop per frame that keeps the subject and moves as little and
as smoothly as it can, solved shot by shot (nothing is smoothed across a cut).

Each axis is solved on its own (a 9:16 crop of a landscape frame spans the full height: only x
moves). Per frame the subject gives a **corridor** for the crop centre: every centre in it keeps
the whole subject (when the subject is larger than the crop, the crop stays inside the subject and
within ``wide_slack`` of the composer's framing, which keeps faces whole when the ratio allows).
The composer's framing centre (headroom, faces, room around the subject) is the **target**.

- **stationary** when one centre lies in every corridor of the shot and the target stays within
  ``stationary_band`` of the frame: the camera holds still at the target's median, clamped into
  that common range (AutoFlip's rule, with its 30 % band);
- otherwise a least-squares path: ``min Σ (c - target)² + λv Σ (Δc)² + λa Σ (Δ²c)²`` with every
  centre inside its corridor (a penalty active set on a banded system, a few solves of O(n)).
  ``λv = (smooth_s · fps)²`` and ``λa = (accel_s · fps)⁴`` set the time over which velocity and
  acceleration are spread, so the motion is bounded by what the corridor forces. A monotone path
  is a ``pan``, any other a ``track``.

:func:`least_motion_path` is the floor: the path of least total motion that keeps the subject in
every frame (the lazy "play" path from the best start), with :func:`needed_speed`, the largest
per-frame move any path keeping the subject must make somewhere.

Boxes are xyxy pixels of the upright frame; centres are floats along one axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import solveh_banded

from promptcrop import boxes as B
from promptcrop.validation import require_number, require_positive_int

CAMERAS = ("stationary", "pan", "track")
#: Weight that pins a frame's centre to its corridor bound once it crossed it.
_PIN_WEIGHT = 1e6
#: A path moving less than this in total (px) is stationary.
_STILL_PX = 0.5
#: A path whose total motion exceeds its net displacement by less than this share is one pan.
_PAN_SLACK = 0.05


@dataclass(frozen=True)
class PathConfig:
    """How the camera moves.

    ``stationary_band``: largest wander of the framing target (share of the frame side) for which
    a shot whose subject allows it is filmed from one place. ``smooth_s`` / ``accel_s``: the
    times (s) velocity and acceleration changes are spread over. ``wide_slack``: when the subject
    is larger than the crop, how far (share of the crop side) the centre may leave the composer's
    framing. ``max_iterations``: active-set solves per shot and axis.
    """

    stationary_band: float = 0.3
    smooth_s: float = 1.0
    accel_s: float = 0.5
    wide_slack: float = 0.1
    max_iterations: int = 30

    def __post_init__(self) -> None:
        require_number("stationary_band", self.stationary_band, 0.0, 1.0)
        require_number("smooth_s", self.smooth_s, 0.0, None)
        require_number("accel_s", self.accel_s, 0.0, None)
        require_number("wide_slack", self.wide_slack, 0.0, 1.0)
        require_positive_int("max_iterations", self.max_iterations)


@dataclass(frozen=True)
class ShotPath:
    """One shot's path: ``boxes`` ``[n, 4]`` int xyxy (all of the crop size, inside the frame),
    ``camera`` (one of :data:`CAMERAS`), ``fits`` (the subject fit the crop in every frame)."""

    boxes: np.ndarray
    camera: str
    fits: bool


def crop_size(frame_size: tuple[int, int], ratio: float) -> tuple[int, int]:
    """The largest ``(w, h)`` of width / height ``ratio`` inside a ``(W, H)`` frame (±1 px of the ratio)."""
    W, H = frame_size
    if W / H > ratio:
        return max(1, min(W, round(H * ratio))), H
    return W, max(1, min(H, round(W / ratio)))


def corridor(low: np.ndarray, high: np.ndarray, target: np.ndarray, extent: int, frame_extent: int,
             slack: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the centres ``[lo, hi]`` of a crop of side ``extent`` that keep the subject
    ``[low, high]`` along one axis (see the module docstring); ``target`` = framing centres."""
    half = extent / 2.0
    fits = (high - low) <= extent
    inside_lo, inside_hi = low + half, high - half  # crop inside a subject larger than it
    near = slack * extent
    wide_lo = np.maximum(inside_lo, target - near)
    wide_hi = np.minimum(inside_hi, target + near)
    empty = wide_lo > wide_hi
    pinned = np.clip(target, inside_lo, np.maximum(inside_lo, inside_hi))
    wide_lo = np.where(empty, pinned, wide_lo)
    wide_hi = np.where(empty, pinned, wide_hi)
    lo = np.where(fits, high - half, wide_lo)
    hi = np.where(fits, low + half, wide_hi)
    return _into_frame(lo, hi, extent, frame_extent)


def keep_corridor(low: np.ndarray, high: np.ndarray, extent: int, frame_extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres that keep the most of the subject ``[low, high]`` a crop of side ``extent`` can:
    the whole subject when it fits, else a crop inside it (the floor's corridor)."""
    half = extent / 2.0
    lo = np.minimum(high - half, low + half)
    hi = np.maximum(high - half, low + half)
    return _into_frame(lo, hi, extent, frame_extent)


def _into_frame(lo: np.ndarray, hi: np.ndarray, extent: int, frame_extent: int) -> tuple[np.ndarray, np.ndarray]:
    half = extent / 2.0
    first, last = half, frame_extent - half
    lo = np.clip(lo, first, last)
    hi = np.clip(hi, first, last)
    return lo, np.maximum(lo, hi)


def solve_axis(lo: np.ndarray, hi: np.ndarray, target: np.ndarray, frame_extent: int, fps: float,
               config: PathConfig) -> np.ndarray:
    """Centres ``[n]`` of one shot along one axis (see the module docstring)."""
    target = np.clip(target, lo, hi)
    common_lo, common_hi = float(lo.max()), float(hi.min())
    if common_lo <= common_hi and np.ptp(target) <= config.stationary_band * frame_extent:
        return np.full(len(lo), np.clip(float(np.median(target)), common_lo, common_hi))
    lam_v = (config.smooth_s * fps) ** 2
    lam_a = (config.accel_s * fps) ** 4
    weights = np.ones(len(lo))
    goal = target.astype(np.float64).copy()
    centres = goal
    for _ in range(config.max_iterations):
        centres = _smooth(goal, weights, lam_v, lam_a)
        below, above = centres < lo - 1e-6, centres > hi + 1e-6
        if not (below.any() or above.any()):
            break
        goal = np.where(below, lo, np.where(above, hi, goal))
        weights = np.where(below | above, _PIN_WEIGHT, weights)
    return np.clip(centres, lo, hi)


def _smooth(goal: np.ndarray, weights: np.ndarray, lam_v: float, lam_a: float) -> np.ndarray:
    """``argmin Σ w (c - goal)² + lam_v Σ (Δc)² + lam_a Σ (Δ²c)²`` (a symmetric banded solve)."""
    n = len(goal)
    if n < 2:
        return goal.copy()
    system = sparse.diags(weights) + lam_v * _gram(n, 1)
    if n >= 3:
        system = system + lam_a * _gram(n, 2)
    system = sparse.dia_matrix(system)
    bands = np.zeros((3, n))  # upper form for solveh_banded: row 2 = diagonal
    for k in range(3):
        bands[2 - k, k:] = system.diagonal(k)
    return solveh_banded(bands, weights * goal)


def _gram(n: int, order: int) -> sparse.spmatrix:
    """``Dᵀ D`` of the ``order``-th difference operator on ``n`` samples."""
    diff = sparse.eye(n, format="csr")
    for _ in range(order):
        diff = diff[1:] - diff[:-1]
    return (diff.T @ diff).tocsr()


def solve_shot(subject: np.ndarray, framing: np.ndarray, size: tuple[int, int], frame_size: tuple[int, int],
               fps: float, config: PathConfig = PathConfig()) -> ShotPath:
    """The crop path of one shot: ``subject`` and ``framing`` ``[n, 4]`` per-frame boxes (xyxy px),
    crop ``size`` ``(w, h)`` inside the ``frame_size`` ``(W, H)`` frame."""
    subject = np.asarray(subject, dtype=np.float64).reshape(-1, 4)
    framing_c = B.xyxy_to_cxcywh(np.asarray(framing, dtype=np.float64).reshape(-1, 4))
    corners = []
    cameras = []
    for axis, (extent, frame_extent) in enumerate(zip(size, frame_size)):
        lo, hi = corridor(subject[:, axis], subject[:, axis + 2], framing_c[:, axis], extent, frame_extent,
                          config.wide_slack)
        centres = solve_axis(lo, hi, framing_c[:, axis], frame_extent, fps, config)
        corners.append(np.clip(np.round(centres - extent / 2.0), 0, frame_extent - extent).astype(np.int64))
        cameras.append(camera_of(centres))
    x1, y1 = corners
    boxes = np.stack([x1, y1, x1 + size[0], y1 + size[1]], axis=1)
    fits = bool(((subject[:, 2] - subject[:, 0]) <= size[0]).all() and ((subject[:, 3] - subject[:, 1]) <= size[1]).all())
    return ShotPath(boxes=boxes, camera=_combined(cameras), fits=fits)


def camera_of(centres: np.ndarray) -> str:
    """``stationary`` (no motion), ``pan`` (one direction) or ``track`` (anything else)."""
    steps = np.diff(centres)
    total = float(np.abs(steps).sum())
    if total < _STILL_PX:
        return "stationary"
    net = abs(float(centres[-1] - centres[0]))
    return "pan" if total <= net * (1 + _PAN_SLACK) + _STILL_PX else "track"


def _combined(cameras: Sequence[str]) -> str:
    return max(cameras, key=CAMERAS.index)


def solve_path(subject: np.ndarray, framing: np.ndarray, shots: Sequence[tuple[int, int]], size: tuple[int, int],
               frame_size: tuple[int, int], fps: float, config: PathConfig = PathConfig()) -> list[ShotPath]:
    """:func:`solve_shot` for every ``[start, end)`` shot of the per-frame ``subject`` / ``framing``."""
    return [solve_shot(subject[s:e], framing[s:e], size, frame_size, fps, config) for s, e in shots]


# ------------------------------------------------------------------------------ the floor


def least_motion_path(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The centres inside ``[lo, hi]`` per frame with the least total motion ``Σ |Δc|``: start
    where the first unavoidable move begins, then move only when a corridor forces it, by as
    little as it forces."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    a, b = lo[0], hi[0]
    start = (a + b) / 2
    for low, high in zip(lo, hi):
        if low > b:
            start = b
            break
        if high < a:
            start = a
            break
        a, b = max(a, low), min(b, high)
    else:
        start = (a + b) / 2
    path = np.empty(len(lo))
    c = start
    for i, (low, high) in enumerate(zip(lo, hi)):
        c = min(max(c, low), high)
        path[i] = c
    return path


def needed_speed(lo: np.ndarray, hi: np.ndarray, max_lag: int | None = None) -> float:
    """The smallest possible largest per-frame move of a path inside ``[lo, hi]``: the largest
    gap between two corridors divided by the frames between them (lags up to ``max_lag``)."""
    n = len(lo)
    worst = 0.0
    for lag in range(1, min(n, max_lag or n)):
        gap = np.maximum(lo[lag:] - hi[:-lag], lo[:-lag] - hi[lag:])
        worst = max(worst, float(gap.max()) / lag)
    return worst
