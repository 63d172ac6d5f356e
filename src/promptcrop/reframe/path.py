"""The camera path: one fixed-size crop per frame that keeps the subject and moves as little and
as smoothly as it can, solved shot by shot (nothing is smoothed across a cut).

Each axis is solved on its own (a 9:16 crop of a landscape frame spans the full height: only x
moves). The composer's framing centres (headroom, faces, room around the subject) over the shot
give its **steady framing** — the robust straight line through them (:func:`steady_line`: a still
camera or one pan), the **target**. Per frame the subject gives a **corridor** for the crop
centre: every centre in it keeps the whole subject (when the subject is larger than the crop, the
crop stays inside the subject and within ``wide_slack`` of that frame's framing or of the steady
framing, or between them, which keeps faces whole when the ratio allows). Both, because a composer
that picks another part of a wide group from one keyframe to the next would move a camera bound
to each frame's framing with it, and a subject that starts or stops moving leaves the straight
line behind.

- **stationary** when one centre lies in every corridor of the shot: the camera holds still at
  the target's median, clamped into that common range — or, when the keyframes' faces (detected,
  or the estimated heads of people whose face was not seen) are given, at the position that cuts
  the fewest of them over the shot, the nearest such to the median, among all the positions that
  keep the subject in every frame (for a subject wider than the crop, anywhere inside it, not
  only near the framing: a composer that frames one part of a group on some keyframes and
  another on others leaves a steady framing between the two, through a face);
- otherwise an L1-optimal path (after Grundmann et al.'s robust L1 camera paths, as AutoFlip
  uses a smoothed path), the **pulled path**: ``min Σ |Δc| + accel_weight · Σ |Δ²c| +
  target_weight · Σ |c - target|``
  ``+ keep_weight · Σ (distance outside the corridor)``, every per-frame move at most
  :meth:`PathConfig.step_limit` (``max_speed`` per second, at most ``max_step`` a frame). The first
  term is the total motion,
  the second makes moves start and stop gently (a piecewise-constant velocity: pans), the third
  pulls toward the steady framing — free within ``free_room`` of the room the subject leaves in
  the crop (less ``free_margin`` of its side), so a subject that fits drifts inside a still crop
  before the camera follows it — the
  fourth keeps the subject — softly, so a subject
  estimate that jumps between keyframes is followed at the speed limit instead of in one frame.
  A linear program (HiGHS through SciPy). A monotone path is a ``pan``, any other a ``track``.
- then the camera moves no more than it must. A first program finds the **steadiest path**: the
  one minimising ``Σ |Δc| + keep_weight · Σ (distance outside the corridor)`` alone, within the
  speed limit (in the solver's soft corridor, so not the floor below). The pulled path's program
  is solved again with two more constraints: total motion at most ``1 + motion_slack`` times the
  steadiest path's, and overrun at most the steadiest path's (each with
  :data:`_BOUND_ROOM_PX` of room). The pull and the acceleration cost then choose among those
  paths. Each slack is tried in turn; the first path whose edges run no deeper into the
  keyframes' faces than the pulled path's (:func:`edge_depth`) is taken — with no faces given,
  the first path — else the pulled path. A pulled path already within the bound is taken as it
  is. The pull is what keeps a wide group's faces whole: there, a path bound to the least motion
  lets the crop's edge sweep across them.

  In the pulled path the pull keeps the crop on the subject rather than on the edge of its
  corridor: motion alone is least when the camera rests on the corridor's trailing edge through a
  pan, and there a subject estimate a little narrower than the true subject cuts it. A centre
  ``d`` px off the steady framing for more than ``1 / target_weight`` frames costs more than the
  move that closes the gap. Pulling toward a straight line, not the per-frame framing, keeps the
  camera still or panning while the subject wanders inside the crop: only the corridor makes it
  track. The motion bound gives some of that back for a steadier camera: within it the pull still
  chooses, but a pan through a corridor only a little wider than the motion it needs runs near
  the corridor's edges (docs/REFRAME.md has the trade, measured).

- last, faces whole (when the keyframes' faces are given). A path — still or moving — that cuts
  faces (an edge 20–80 % into one, per frame) is checked against one that keeps clear of them
  (here and above, only the faces a crop can hold: :func:`holdable_faces`):
  per frame the centres that keep the subject (anywhere inside a subject wider than the crop, as
  for a still camera) and cut none of that frame's faces form a few intervals
  (:func:`clear_intervals`, half a pixel clear of the cuts: the crops are rounded); dynamic
  programming picks one per frame near the path, each within a frame's move of the next's, or
  none — where every centre cuts, or no interval is in reach at less cost than a crop side
  (:func:`clear_route`); the program is solved again in those intervals. That path is taken when
  it cuts fewer faces, moves at most ``cut_cost`` px more per cut it avoids and leaves the subject
  no further. On a group wider than the crop drifting past a still camera, it follows the group
  with its edges between faces instead of letting faces cross them.

:func:`least_motion_path` is the floor: the path of least total motion that keeps the subject in
every frame (the lazy "play" path from the best start), with :func:`needed_speed`, the largest
per-frame move any path keeping the subject must make somewhere.

The solved centres become crops through the post-processing's fit and pixels steps
(:func:`promptcrop.postprocess.path_boxes`): every frame's crop is sized and rounded as a photo
crop of that frame would be.

Boxes are xyxy pixels of the upright frame; centres are floats along one axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptcrop import boxes as B
from promptcrop.postprocess import path_boxes
from promptcrop.validation import require_number

CAMERAS = ("stationary", "pan", "track")
#: A path moving less than this in total (px) is stationary.
_STILL_PX = 0.5
#: A path whose total motion exceeds its net displacement by less than this share is one pan.
_PAN_SLACK = 0.05
#: Frames of a shot the steady framing line is fitted on (spread over the shot; bounds the work).
_LINE_POINTS = 25
#: A face with more than this share of its side inside the crop and outside it is cut (20–80 %
#: inside: the reframe benchmark's definition).
_CUT_SHARE = 0.2
#: Room (px) over the steadiest path's motion and overrun in the bounded program, so that it stays
#: feasible in floating point.
_BOUND_ROOM_PX = 1.0
#: Depth (share of a face's side, summed) by which a bounded path may run deeper into the faces than
#: the pulled path: rounding only.
_DEPTH_ROOM = 1e-6
#: Room (px) kept between a face-clear interval and the positions that cut a face: the crops are
#: rounded to whole pixels after the path is solved.
_ROUND_PX = 0.5
#: What a frame without a face-clear interval costs the route, in crop sides of distance: more than
#: any interval in reach, so a face is cut only where none can be kept clear.
_NONE_COST = 1.0


@dataclass(frozen=True)
class PathConfig:
    """How the camera moves.

    ``max_speed``: largest move per second, as a share of the frame side (0.45 = 1.8 % of the side
    per frame at 25 fps); ``max_step``: largest move per frame, whatever the frame rate (a 15 or 20
    fps video moves no more per frame than a 25 fps one). ``accel_weight``: cost of a change of
    velocity (px per frame) against one pixel of motion. ``target_weight``: cost of one pixel
    between the centre and the shot's steady framing, per frame. ``keep_weight``: cost of one pixel
    outside the corridor, per frame (the corridor is a soft constraint: an estimate that jumps is
    followed at the speed limit, :meth:`step_limit`, not in one frame). ``wide_slack``: when the
    subject is larger than the crop, how far (share of the crop side) the centre may leave the
    framing (see the module docstring). ``free_room``: share of the room a smaller subject leaves in
    the crop (half the difference of their sides) within which the centre may sit off the steady
    framing at no cost; ``free_margin``: share of the subject's side left out of that room on each
    side (an estimate narrower than the true subject must not let the crop drift onto it).
    ``motion_slack``: the bounds on a moving camera's total motion tried in turn, each a share over
    the least motion within its corridor (see the module docstring); empty: the pulled path alone.
    ``cut_cost``: how much more motion (px) a path may spend per face cut it avoids (one face in one
    frame) when the camera's path cuts the keyframes' faces (see the module docstring); 0: only a
    path that moves no more.
    """

    max_speed: float = 0.45
    max_step: float = 0.018
    accel_weight: float = 20.0
    target_weight: float = 0.1
    keep_weight: float = 10.0
    wide_slack: float = 0.1
    free_room: float = 0.5
    free_margin: float = 0.15
    motion_slack: tuple[float, ...] = (0.0, 0.3)
    cut_cost: float = 4.0

    def __post_init__(self) -> None:
        require_number("max_speed", self.max_speed, 0.0, None, low_open=True)
        require_number("max_step", self.max_step, 0.0, None, low_open=True)
        require_number("accel_weight", self.accel_weight, 0.0, None)
        require_number("target_weight", self.target_weight, 0.0, None)
        require_number("wide_slack", self.wide_slack, 0.0, 1.0)
        require_number("keep_weight", self.keep_weight, 0.0, None, low_open=True)
        require_number("free_room", self.free_room, 0.0, 1.0)
        require_number("free_margin", self.free_margin, 0.0, None)
        for slack in self.motion_slack:
            require_number("motion_slack", slack, 0.0, None)
        require_number("cut_cost", self.cut_cost, 0.0, None)

    def step_limit(self, fps: float) -> float:
        """The largest move per frame at ``fps`` (> 0; ValueError otherwise), as a share of the
        frame side."""
        require_number("fps", fps, 0.0, None, low_open=True)
        return min(self.max_speed / fps, self.max_step)


@dataclass(frozen=True)
class ShotPath:
    """One shot's path: ``boxes`` ``[n, 4]`` int xyxy (all of the crop size, inside the frame),
    ``camera`` (one of :data:`CAMERAS`), ``fits`` (the subject fit the crop in every frame)."""

    boxes: np.ndarray
    camera: str
    fits: bool


def corridor(low: np.ndarray, high: np.ndarray, target: np.ndarray, extent: int, frame_extent: int,
             slack: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the centres ``[lo, hi]`` of a crop of side ``extent`` that keep the subject
    ``[low, high]`` along one axis (see the module docstring); ``target`` = the framing centres
    a crop inside a larger subject stays near."""
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


def solve_axis(lo: np.ndarray, hi: np.ndarray, target: np.ndarray, extent: int, frame_extent: int, fps: float,
               config: PathConfig, free: np.ndarray | float = 0.0, faces: FaceSpans | None = None,
               keep: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Centres ``[n]`` of one shot along one axis of a crop of side ``extent`` (see the module
    docstring); ``free`` (px, per frame or one for all) is how far a centre may sit off ``target``
    at no cost; ``faces``: the faces a still camera keeps clear of, a moving one's edges run no
    deeper into than the pulled path's (:func:`edge_depth`), and either leaves for a face-clear
    path when it still cuts them; ``keep``: per frame the centres ``(lo [n], hi [n])`` that keep
    the subject (:func:`keep_corridor`, which holds ``[lo, hi]``), where a still camera may move
    and a face-clear path may run to cut fewer faces (default: ``[lo, hi]``)."""
    target = np.clip(target, lo, hi)

    def program_of_shot() -> _Program:
        return _Program(lo, hi, target, config.step_limit(fps) * frame_extent, config, free)

    program = None
    if float(lo.max()) <= float(hi.min()):
        path = np.full(len(lo), _still_centre(lo, hi, target, extent, faces, keep))
    elif len(lo) < 3:  # nothing to smooth
        return target.astype(np.float64)
    else:
        program = program_of_shot()
        path = _least_moving(program, extent, faces, config)
        if path is None:
            return target.astype(np.float64)
    cuts = 0 if faces is None or len(lo) < 3 else cut_count(path, extent, faces)
    if not cuts:
        return path
    return _clear_of_faces(path, cuts, program or program_of_shot(), (lo, hi) if keep is None else keep, extent,
                           faces, config)


def _still_centre(lo: np.ndarray, hi: np.ndarray, target: np.ndarray, extent: int, faces: FaceSpans | None,
                  keep: tuple[np.ndarray, np.ndarray] | None) -> float:
    """Where a still camera holds when one centre lies in every corridor ``[lo, hi]`` (``[n]``
    each): the target's median clamped into their common range, or — with ``faces`` — the centre
    that cuts the fewest of them among those in every ``keep`` corridor (see the module docstring)."""
    common_lo, common_hi = float(lo.max()), float(hi.min())
    still = float(np.clip(float(np.median(target)), common_lo, common_hi))
    if faces is None or not len(faces.spans):
        return still
    if keep is not None:
        common_lo, common_hi = min(common_lo, float(keep[0].max())), max(common_hi, float(keep[1].min()))
    return fewest_cut(common_lo, common_hi, still, extent, faces.spans)


def _least_moving(program: _Program, extent: int, faces: FaceSpans | None, config: PathConfig) -> np.ndarray | None:
    """Centres ``[n]`` of a moving camera: the pulled path, or the first motion bound's path whose
    edges run no deeper into ``faces`` than the pulled path's (see the module docstring); None
    when unsolved."""
    pulled = program.solve()
    if pulled is None:
        return None
    steadiest = program.steadiest() if config.motion_slack else None
    if steadiest is None:
        return pulled
    allowed = edge_depth(pulled, extent, faces) if faces is not None else None
    for slack in config.motion_slack:
        limits = (steadiest[0] * (1.0 + slack) + _BOUND_ROOM_PX, steadiest[1] + _BOUND_ROOM_PX)
        if program.within(pulled, limits):  # the bound does not bind: the pulled path is its optimum
            return pulled
        bounded = program.solve(limits)
        if bounded is not None and (allowed is None or edge_depth(bounded, extent, faces) <= allowed + _DEPTH_ROOM):
            return bounded
    return pulled


def _clear_of_faces(path: np.ndarray, cuts: int, program: _Program, keep: tuple[np.ndarray, np.ndarray], extent: int,
                    faces: FaceSpans, config: PathConfig) -> np.ndarray:
    """``path`` ``[n]`` (which cuts ``cuts`` of ``faces``), or the path through face-clear centres:
    :func:`clear_intervals` of the ``keep`` corridor (``(lo [n], hi [n])``), one a frame chosen by
    :func:`clear_route` near ``path`` (a frame without one keeps the program's corridor), and the
    program solved again in them. That path is taken when it cuts fewer faces, moves at most
    ``cut_cost`` px more per cut it avoids and leaves the ``keep`` corridor no further (each
    within :data:`_BOUND_ROOM_PX`)."""
    intervals = clear_intervals(keep[0], keep[1], extent, faces)
    route = clear_route(intervals, path, program.speed, extent * _NONE_COST, (program.lo, program.hi))
    lo, hi = program.lo.copy(), program.hi.copy()
    chosen = [frame for frame, (state, free) in enumerate(zip(route, intervals)) if state < len(free)]
    if not chosen:
        return path
    for frame in chosen:
        lo[frame], hi[frame] = intervals[frame][route[frame]]
    clear = program.within_corridor(lo, hi).solve()
    if clear is None:
        return path
    fewer = cuts - cut_count(clear, extent, faces)
    extra = _motion(clear) - _motion(path)
    further = _overrun(clear, keep) - _overrun(path, keep)
    taken = fewer > 0 and extra <= config.cut_cost * fewer + _BOUND_ROOM_PX and further <= _BOUND_ROOM_PX
    return clear if taken else path


def _motion(centres: np.ndarray) -> float:
    """Total motion ``Σ |Δc|`` (px) of the centres ``[n]``."""
    return float(np.abs(np.diff(centres)).sum())


def _overrun(centres: np.ndarray, corridor: tuple[np.ndarray, np.ndarray]) -> float:
    """How far (px, summed over the frames) the centres ``[n]`` lie outside ``corridor`` ``(lo [n], hi [n])``."""
    lo, hi = corridor
    return float((np.maximum(lo - centres, 0.0) + np.maximum(centres - hi, 0.0)).sum())


class _Program:
    """The linear program of the module docstring for one shot (``n ≥ 3`` frames) along one axis.

    Variables: centres ``c [n]``, ``u [n-1] ≥ |Δc|`` (at most ``speed``), ``a [n-2] ≥ |Δ²c|``,
    ``e [n] ≥ |c - target| - free``, ``s [n] ≥`` how far ``c`` leaves its corridor.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, target: np.ndarray, speed: float, config: PathConfig,
                 free: np.ndarray | float = 0.0) -> None:
        from scipy import sparse

        n = self.n = len(lo)
        self.config = config
        self.lo, self.hi = lo, hi
        self.target, self.speed, self.free = target, speed, free
        eye = sparse.eye(n, format="csr")
        d1 = eye[1:] - eye[:-1]
        d2 = d1[1:] - d1[:-1]
        m1, m2 = n - 1, n - 2
        sizes = {"u": m1, "a": m2, "e": n, "s": n}

        def row(c_part: Any, **parts: Any) -> Any:
            rows = c_part.shape[0]
            return sparse.hstack([c_part] + [parts.get(k, sparse.csr_matrix((rows, size))) for k, size in sizes.items()])

        self.a_ub = sparse.vstack([
            row(d1, u=-sparse.eye(m1)), row(-d1, u=-sparse.eye(m1)),
            row(d2, a=-sparse.eye(m2)), row(-d2, a=-sparse.eye(m2)),
            row(eye, e=-sparse.eye(n)), row(-eye, e=-sparse.eye(n)),
            row(eye, s=-sparse.eye(n)), row(-eye, s=-sparse.eye(n)),
        ]).tocsr()
        self.b_ub = np.concatenate([np.zeros(2 * m1 + 2 * m2), target + free, free - target, hi, -lo])
        self.motion = np.concatenate([np.zeros(n), np.ones(m1), np.zeros(m2 + 2 * n)])
        self.outside = np.concatenate([np.zeros(n + m1 + m2 + n), np.ones(n)])
        self.cost = (self.motion + config.keep_weight * self.outside
                     + np.concatenate([np.zeros(n + m1), np.full(m2, config.accel_weight),
                                       np.full(n, config.target_weight), np.zeros(n)]))
        first, last = float(lo.min()), float(hi.max())
        self.bounds = [(first, last)] * n + [(0.0, speed)] * m1 + [(0.0, None)] * (m2 + 2 * n)

    def _run(self, cost: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray | None:
        from scipy import sparse
        from scipy.optimize import linprog

        a_ub, b_ub = self.a_ub, self.b_ub
        if limits is not None:
            a_ub = sparse.vstack([a_ub, sparse.csr_matrix(np.stack([self.motion, self.outside]))]).tocsr()
            b_ub = np.concatenate([b_ub, limits])
        result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=self.bounds, method="highs")
        return result.x if result.status == 0 else None

    def solve(self, limits: tuple[float, float] | None = None) -> np.ndarray | None:
        """Centres ``[n]`` of the pulled path, or with ``limits`` ``(motion, overrun)`` px of the
        path of the same objective whose total motion and corridor overrun are at most those;
        None when unsolved."""
        x = self._run(self.cost, limits)
        return None if x is None else x[: self.n]

    def steadiest(self) -> tuple[float, float] | None:
        """``(motion, overrun)`` px of the path of least ``Σ |Δc| + keep_weight · overrun`` within
        the speed limit, or None when unsolved."""
        x = self._run(self.motion + self.config.keep_weight * self.outside)
        return None if x is None else (float(self.motion @ x), float(self.outside @ x))

    def within_corridor(self, lo: np.ndarray, hi: np.ndarray) -> _Program:
        """The same program with the corridor ``[lo, hi]`` (``[n]`` each) and the target moved into it."""
        return _Program(lo, hi, np.clip(self.target, lo, hi), self.speed, self.config, self.free)

    def within(self, centres: np.ndarray, limits: tuple[float, float]) -> bool:
        """Whether the path ``centres`` ``[n]`` moves and leaves its corridor by at most ``limits``
        ``(motion, overrun)`` px."""
        return _motion(centres) <= limits[0] and _overrun(centres, (self.lo, self.hi)) <= limits[1]


def solve_shot(subject: np.ndarray, framing: np.ndarray, size: tuple[int, int], frame_size: tuple[int, int],
               fps: float, config: PathConfig = PathConfig(), faces: Sequence[np.ndarray] | None = None) -> ShotPath:
    """The crop path of one shot: ``subject`` and ``framing`` ``[n, 4]`` per-frame boxes (xyxy px),
    crop ``size`` ``(w, h)`` inside the ``frame_size`` ``(W, H)`` frame; ``faces``: per frame the
    ``[F, 4]`` boxes (xyxy px) a still camera keeps clear of, a moving one's edges run no deeper
    into than the pulled path's, and either leaves for a face-clear path when it still cuts them
    (see the module docstring)."""
    subject = np.asarray(subject, dtype=np.float64).reshape(-1, 4)
    if faces is not None and len(faces) != len(subject):
        raise ValueError(f"faces must give one [F, 4] array per frame ({len(subject)}), got {len(faces)}")
    face_boxes, frame_of = _flat_faces(faces)
    framing_c = B.xyxy_to_cxcywh(np.asarray(framing, dtype=np.float64).reshape(-1, 4))
    centres_of = []
    cameras = []
    for axis, (extent, frame_extent) in enumerate(zip(size, frame_size)):
        low, high, framed = subject[:, axis], subject[:, axis + 2], framing_c[:, axis]
        line = steady_line(framed)
        # near this frame's framing or the steady one (the hull of the two corridors)
        lo_frame, hi_frame = corridor(low, high, framed, extent, frame_extent, config.wide_slack)
        lo_line, hi_line = corridor(low, high, line, extent, frame_extent, config.wide_slack)
        lo, hi = np.minimum(lo_frame, lo_line), np.maximum(hi_frame, hi_line)
        spans = None if faces is None else holdable_faces(face_boxes[:, [axis, axis + 2]], frame_of, extent)
        centres = solve_axis(lo, hi, line, extent, frame_extent, fps, config, free_room(low, high, extent, config), spans,
                             keep_corridor(low, high, extent, frame_extent))
        centres_of.append(centres)
        cameras.append(camera_of(centres))
    half = np.asarray(size, dtype=np.float64) / 2
    centre = np.stack(centres_of, axis=1)  # [n, 2]
    boxes = path_boxes(np.concatenate([centre - half, centre + half], axis=1), size[0] / size[1], frame_size)
    fits = bool(((subject[:, 2] - subject[:, 0]) <= size[0]).all() and ((subject[:, 3] - subject[:, 1]) <= size[1]).all())
    return ShotPath(boxes=boxes, camera=_combined(cameras), fits=fits)


@dataclass(frozen=True)
class FaceSpans:
    """The faces of a shot along one axis: ``spans`` ``[M, 2]`` (low, high px) and ``frame``
    ``[M]`` (the shot's frame each is seen in)."""

    spans: np.ndarray
    frame: np.ndarray


def holdable_faces(spans: np.ndarray, frame: np.ndarray, extent: int) -> FaceSpans:
    """The faces ``spans`` ``[M, 2]`` (low, high px along one axis; seen in the shot's frames
    ``frame`` ``[M]``) that a crop of side ``extent`` can keep its edges out of: those at most
    ``extent / (1 - 2 · _CUT_SHARE)`` wide, which a crop centred on them holds with both edges in
    their outer shares (the edge rule of :func:`cut_count`). The boxes are the keyframes' heads,
    wider than the face in them, so a head up to that width still holds a face a crop can keep
    whole. A wider one (a close-up's) puts an edge through its middle part whatever crop shows
    more than a fifth of it: it is the subject's to place, not an edge's to avoid."""
    holdable = (spans[:, 1] - spans[:, 0]) * (1.0 - 2.0 * _CUT_SHARE) <= extent
    return FaceSpans(spans[holdable], frame[holdable])


def _flat_faces(faces: Sequence[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``[F, 4]`` boxes → all of them ``[M, 4]`` and the frame of each ``[M]``."""
    per_frame = [np.asarray(f, dtype=np.float64).reshape(-1, 4) for f in (() if faces is None else faces)]
    frame_of = np.repeat(np.arange(len(per_frame)), [len(f) for f in per_frame]).astype(np.int64)
    return np.concatenate([np.zeros((0, 4))] + per_frame), frame_of


def edge_depth(centres: np.ndarray, extent: int, faces: FaceSpans) -> float:
    """How deep the edges of the crops of side ``extent`` centred at ``centres`` ``[n]`` run into
    ``faces`` (each in its own frame): per face and edge, the distance from the edge to the nearer
    side of the face as a share of the face's side (0 for an edge outside it, 0.5 through its
    middle), summed. Unlike a count of cut faces (20–80 % inside), it tells an edge near a face's
    middle from one near its side, and an edge 25 % into a face from one 15 % in."""
    spans = faces.spans
    side = np.maximum(spans[:, 1] - spans[:, 0], 1e-9)
    centre = centres[faces.frame]
    depth = 0.0
    for edge in (centre - extent / 2.0, centre + extent / 2.0):
        depth += float((np.clip(np.minimum(edge - spans[:, 0], spans[:, 1] - edge), 0.0, None) / side).sum())
    return depth


def fewest_cut(low: float, high: float, preferred: float, extent: int, spans: np.ndarray) -> float:
    """The centre in ``[low, high]`` of a crop of side ``extent`` that cuts the fewest of ``spans``
    ``[M, 2]`` (each face of each frame, along one axis), the nearest such to ``preferred``. A crop
    edge through the middle of a face, all but :data:`_CUT_SHARE` of it on either side, cuts it
    (for a face narrower than the crop: 20–80 % of it inside); a face is cut once even when both
    edges pass through it. Counted over whole pixels with sorted interval ends, so a long shot
    costs ``O(M log M)``, not ``M`` per position."""
    half = extent / 2.0
    first, last = _cut_zones(spans)
    first, last = first[last > first], last[last > first]
    # centres putting the right edge there, then the left edge; one interval when they overlap
    joined = last - half > first + half
    starts = np.sort(np.concatenate([first - half, (first + half)[~joined]]))
    ends = np.sort(np.concatenate([np.where(joined, last + half, last - half), (last + half)[~joined]]))
    options = np.unique(np.clip(np.append(np.arange(np.ceil(low), np.floor(high) + 1.0), preferred), low, high))
    cuts = np.searchsorted(starts, options, side="left") - np.searchsorted(ends, options, side="right")
    return float(options[np.lexsort((np.abs(options - preferred), cuts))[0]])


def _cut_zones(spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a crop edge cuts each face of ``spans`` ``[M, 2]``: strictly between ``first`` and
    ``last`` (``[M]`` each), all but :data:`_CUT_SHARE` of the face on either side (nowhere for a
    face of no width: ``last <= first``)."""
    margin = _CUT_SHARE * (spans[:, 1] - spans[:, 0])
    return spans[:, 0] + margin, spans[:, 1] - margin


def cut_count(centres: np.ndarray, extent: int, faces: FaceSpans) -> int:
    """How many of ``faces`` (each in its own frame) the crops of side ``extent`` centred at
    ``centres`` ``[n]`` cut (an edge 20–80 % into it: :func:`fewest_cut`'s count, per frame)."""
    first, last = _cut_zones(faces.spans)
    centre = centres[faces.frame]
    cut = np.zeros(len(centre), dtype=bool)
    for edge in (centre - extent / 2.0, centre + extent / 2.0):
        cut |= (first < edge) & (edge < last)
    return int(cut.sum())


def clear_intervals(lo: np.ndarray, hi: np.ndarray, extent: int, faces: FaceSpans) -> list[np.ndarray]:
    """Per frame, the centres in ``[lo, hi]`` (``[n]`` each) of a crop of side ``extent`` that cut
    none of that frame's ``faces`` (an edge 20–80 % into one), with :data:`_ROUND_PX` of room:
    ``[k, 2]`` closed intervals (low, high) in order, apart from each other (an interval may be a
    single point); ``k = 0`` when every centre there cuts one."""
    half = extent / 2.0
    first, last = _cut_zones(faces.spans)
    real = last > first
    frame, first, last = faces.frame[real], first[real], last[real]
    order = np.argsort(frame, kind="stable")
    frame, first, last = frame[order], first[order], last[order]
    ends = np.searchsorted(frame, np.arange(len(lo) + 1))
    out = []
    for t, (low, high) in enumerate(zip(lo, hi)):
        a, b = first[ends[t]:ends[t + 1]], last[ends[t]:ends[t + 1]]
        banned = np.concatenate([np.stack([a - half, b - half], axis=1), np.stack([a + half, b + half], axis=1)])
        banned += [-_ROUND_PX, _ROUND_PX]
        out.append(_gaps(float(low), float(high), banned[np.argsort(banned[:, 0])]))
    return out


def _gaps(low: float, high: float, banned: np.ndarray) -> np.ndarray:
    """``[low, high]`` less the open intervals ``banned`` ``[m, 2]`` (sorted by their start):
    ``[k, 2]`` closed intervals."""
    free, start = [], low
    for ban_lo, ban_hi in banned:
        if ban_lo >= high:
            break
        if ban_lo >= start:
            free.append((start, ban_lo))
        start = max(start, ban_hi)
    if start <= high:
        free.append((start, high))
    return np.array(free, dtype=np.float64).reshape(-1, 2)


def clear_route(intervals: Sequence[np.ndarray], preferred: np.ndarray, speed: float, none_cost: float,
                fallback: tuple[np.ndarray, np.ndarray] | None = None) -> list[int]:
    """One face-clear interval per frame — an index into that frame's ``intervals`` (``[k, 2]``
    each), or ``k`` for none — chosen by dynamic programming (Viterbi): a frame costs the distance
    of ``preferred`` ``[n]`` from its interval, or ``none_cost`` with none; the states of
    consecutive frames are at most ``speed`` px apart, where a frame with none spans its
    ``fallback`` corridor ``(lo [n], hi [n])`` (default: anywhere). Reach is checked between
    neighbouring frames only, so a camera may not be able to follow a route exactly; the solver's
    corridor is soft."""
    cost = np.zeros(0)
    back: list[np.ndarray] = []
    previous = np.zeros((0, 2))
    for t, free in enumerate(intervals):
        spare = [-np.inf, np.inf] if fallback is None else [fallback[0][t], fallback[1][t]]
        states = np.concatenate([free, [spare]])
        here = np.append(np.abs(preferred[t] - np.clip(preferred[t], free[:, 0], free[:, 1])), none_cost)
        if t == 0:
            cost = here
        else:
            gap = np.maximum(states[None, :, 0] - previous[:, None, 1], previous[:, None, 0] - states[None, :, 1])
            total = cost[:, None] + np.where(gap <= speed, 0.0, np.inf)
            back.append(total.argmin(axis=0))
            cost = total.min(axis=0) + here
        previous = states
    if not len(cost):
        return []
    state = int(np.argmin(cost))
    route = [state]
    for arrows in reversed(back):
        state = int(arrows[state])
        route.append(state)
    return route[::-1]


def free_room(low: np.ndarray, high: np.ndarray, extent: int, config: PathConfig) -> np.ndarray:
    """Per frame, how far (px) the centre of a crop of side ``extent`` may sit off the steady
    framing at no cost, for the subject ``[low, high]`` along one axis: ``free_room`` of the room
    the subject leaves on each side, less ``free_margin`` of its side (0 when it does not fit)."""
    width = high - low
    return config.free_room * np.maximum(0.0, (extent - width) / 2 - config.free_margin * width)


def robust_line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Theil-Sen straight line through ``y`` ``[n, k]`` (``k`` series) at ``x`` ``[n]`` (distinct):
    ``(slope [k], intercept [k])``, the median of the pairwise slopes, then the median intercept —
    unmoved by up to about a quarter of the points lying anywhere."""
    first, second = np.triu_indices(len(x), 1)
    slope = np.median((y[second] - y[first]) / (x[second] - x[first])[:, None], axis=0)
    return slope, np.median(y - slope * x[:, None], axis=0)


def steady_line(values: np.ndarray) -> np.ndarray:
    """``values`` ``[n]`` (per-frame framing centres of one shot) replaced by their
    :func:`robust_line` over the frame index, fitted on at most :data:`_LINE_POINTS` frames spread
    over the shot."""
    n = len(values)
    if n < 3:
        return np.asarray(values, dtype=np.float64)
    frames = np.arange(n, dtype=np.float64)
    picks = np.unique(np.linspace(0, n - 1, min(n, _LINE_POINTS)).round().astype(int))
    slope, intercept = robust_line(frames[picks], np.asarray(values, dtype=np.float64)[picks, None])
    return intercept[0] + slope[0] * frames


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
               frame_size: tuple[int, int], fps: float, config: PathConfig = PathConfig(),
               faces: Sequence[np.ndarray] | None = None) -> list[ShotPath]:
    """:func:`solve_shot` for every ``[start, end)`` shot of the per-frame ``subject`` / ``framing``
    (and ``faces``, per frame ``[F, 4]``)."""
    return [solve_shot(subject[s:e], framing[s:e], size, frame_size, fps, config, None if faces is None else faces[s:e])
            for s, e in shots]


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
