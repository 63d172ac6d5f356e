"""The camera path solver's invariants: fixed-size boxes inside the frame, subject kept, bounded
in-shot motion, jumps only at cuts, least motion as the floor."""

from __future__ import annotations

import numpy as np
import pytest

from promptcrop.postprocess import largest_crop_size
from promptcrop.reframe.path import (
    FaceSpans,
    PathConfig,
    camera_of,
    clear_intervals,
    clear_route,
    corridor,
    cut_count,
    edge_depth,
    fewest_cut,
    free_room,
    holdable_faces,
    keep_corridor,
    least_motion_path,
    needed_speed,
    solve_path,
    solve_shot,
)

W, H = 640, 360
FPS = 25.0
MAX_STEP = 0.02 * W  # the largest in-shot move per frame the issue allows


def _moving_subject(n: int, seed: int, width: float = 60.0) -> np.ndarray:
    """A subject drifting and wobbling across the frame, ``[n, 4]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cx = W / 2 + rng.uniform(-200, 200) * np.sin(t / rng.uniform(40, 120) + rng.uniform(0, 6))
    cx += rng.normal(0, 3, n)  # detection noise
    cy = H / 2 + rng.normal(0, 2, n)
    return np.stack([cx - width / 2, cy - 80, cx + width / 2, cy + 80], axis=1)


def _check_boxes(boxes: np.ndarray, size: tuple[int, int]) -> None:
    assert np.all(np.abs((boxes[:, 2] - boxes[:, 0]) - size[0]) <= 1)
    assert np.all(np.abs((boxes[:, 3] - boxes[:, 1]) - size[1]) <= 1)
    assert boxes[:, :2].min() >= 0 and boxes[:, 2].max() <= W and boxes[:, 3].max() <= H


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ratio", [9 / 16, 1.0])
def test_boxes_fixed_size_inside_frame_and_subject_kept(seed: int, ratio: float) -> None:
    subject = _moving_subject(300, seed)
    size = largest_crop_size((W, H), ratio)
    shot = solve_shot(subject, subject, size, (W, H), FPS)
    _check_boxes(shot.boxes, size)
    assert shot.fits
    clipped = np.clip(subject, 0, [W, H, W, H])
    inside = (shot.boxes[:, 0] <= clipped[:, 0] + 1) & (shot.boxes[:, 2] >= clipped[:, 2] - 1)
    assert inside.all()


@pytest.mark.parametrize("seed", range(6))
def test_in_shot_moves_bounded_unless_least_motion_needs_more(seed: int) -> None:
    subject = _moving_subject(300, seed)
    size = largest_crop_size((W, H), 9 / 16)
    shot = solve_shot(subject, subject, size, (W, H), FPS)
    steps = np.abs(np.diff(shot.boxes[:, 0]))
    lo, hi = keep_corridor(subject[:, 0], subject[:, 2], size[0], W)
    assert steps.max() <= max(MAX_STEP, needed_speed(lo, hi) + 1.0)


def test_fast_subject_is_followed_at_the_speed_limit() -> None:
    """A subject crossing the frame in one second needs moves above 2 % of the width: the path
    follows at its speed limit (never above it) and keeps the subject when the limit allows."""
    t = np.arange(25)
    cx = 40 + t * 23.0
    subject = np.stack([cx - 30, 100 + 0 * t, cx + 30, 260 + 0 * t], axis=1)
    subject = np.concatenate([subject, np.tile(subject[-1], (25, 1))])  # then it stops
    size = largest_crop_size((W, H), 9 / 16)
    lo, hi = keep_corridor(subject[:, 0], subject[:, 2], size[0], W)
    assert needed_speed(lo, hi) > MAX_STEP
    limited = solve_shot(subject, subject, size, (W, H), FPS)
    limit = PathConfig().max_speed * W / FPS
    assert np.abs(np.diff(limited.boxes[:, 0])).max() <= limit + 1
    assert limited.boxes[-1, 0] <= subject[-1, 0] and limited.boxes[-1, 2] >= subject[-1, 2]
    fast = solve_shot(subject, subject, size, (W, H), FPS, PathConfig(max_speed=1.0, max_step=0.04))
    kept = (fast.boxes[:, 0] <= subject[:, 0] + 1) & (fast.boxes[:, 2] >= subject[:, 2] - 1)
    assert kept.all()
    # at a lower frame rate the same speed per second would be a longer move per frame: capped
    slow_video = solve_shot(subject, subject, size, (W, H), 10.0)
    assert PathConfig().max_speed * W / 10.0 > MAX_STEP
    assert np.abs(np.diff(slow_video.boxes[:, 0])).max() <= PathConfig().max_step * W + 1


def test_jumps_only_at_cuts() -> None:
    left = np.tile([40.0, 100, 100, 260], (60, 1))
    right = np.tile([520.0, 100, 600, 260], (60, 1))
    subject = np.concatenate([left, right, left])
    shots = [(0, 60), (60, 120), (120, 180)]
    size = largest_crop_size((W, H), 9 / 16)
    paths = solve_path(subject, subject, shots, size, (W, H), FPS)
    boxes = np.concatenate([p.boxes for p in paths])
    steps = np.abs(np.diff(boxes[:, 0]))
    cuts = {59, 119}  # step i goes from frame i to i + 1
    assert all(steps[i] > 100 for i in cuts)
    assert all(steps[i] <= MAX_STEP for i in range(len(steps)) if i not in cuts)
    assert [p.camera for p in paths] == ["stationary"] * 3


def test_still_subject_is_filmed_from_one_place() -> None:
    subject = np.tile([300.0, 50, 360, 300], (100, 1)) + np.random.default_rng(0).normal(0, 4, (100, 4))
    shot = solve_shot(subject, subject, largest_crop_size((W, H), 9 / 16), (W, H), FPS)
    assert shot.camera == "stationary"
    assert np.ptp(shot.boxes[:, 0]) == 0


def test_jitter_near_the_least_motion_floor() -> None:
    """On a smooth moving subject the solved path moves at most 1.5 x the least motion needed."""
    for seed in range(4):
        subject = _moving_subject(400, seed, width=40)
        size = largest_crop_size((W, H), 9 / 16)
        shot = solve_shot(subject, subject, size, (W, H), FPS)
        lo, hi = keep_corridor(subject[:, 0], subject[:, 2], size[0], W)
        floor = np.abs(np.diff(least_motion_path(lo, hi))).sum()
        moved = np.abs(np.diff((shot.boxes[:, 0] + shot.boxes[:, 2]) / 2)).sum()
        assert moved <= 1.5 * floor + 4, (seed, moved, floor)


def test_least_motion_path_is_minimal_and_inside() -> None:
    lo = np.array([0.0, 0, 5, 5, 0, 0])
    hi = np.array([10.0, 10, 10, 10, 2, 10])
    path = least_motion_path(lo, hi)
    assert np.all(path >= lo) and np.all(path <= hi)
    assert np.abs(np.diff(path)).sum() == pytest.approx(3.0)  # from 5 down to 2, no more


def test_needed_speed_spreads_a_gap_over_the_frames_between() -> None:
    lo = np.array([0.0, 0, 0, 0, 30])
    hi = np.array([0.0, 100, 100, 100, 100])
    assert needed_speed(lo, hi) == pytest.approx(7.5)


def test_wide_subject_keeps_the_crop_inside_it_near_the_framing() -> None:
    low, high = np.array([100.0]), np.array([500.0])
    target = np.array([320.0])
    lo, hi = corridor(low, high, target, 200, W, slack=0.1)
    assert lo[0] >= 200 and hi[0] <= 400 and lo[0] <= 320 <= hi[0]
    assert hi[0] - lo[0] == pytest.approx(40.0)


def test_wide_subject_whose_framing_wavers_is_filmed_from_one_place() -> None:
    """A still subject twice as wide as the crop, whose per-frame framing swings between two parts
    of it (the composer picking another person of a group): the corridor follows the steady
    framing, so the camera holds still inside the subject."""
    n = 100
    subject = np.tile([100.0, 40, 520, 330], (n, 1))
    size = largest_crop_size((W, H), 9 / 16)
    cx = np.where(np.arange(n) // 10 % 2 == 0, 250.0, 370.0)
    framing = np.stack([cx - size[0] / 2, np.zeros(n), cx + size[0] / 2, np.full(n, H)], axis=1)
    shot = solve_shot(subject, framing, size, (W, H), FPS)
    assert shot.camera == "stationary"
    assert shot.boxes[0, 0] >= subject[0, 0] and shot.boxes[0, 2] <= subject[0, 2]


def test_a_still_camera_holds_where_it_cuts_the_fewest_faces() -> None:
    """A still subject narrower than the crop beside a bystander's face: the camera holds at the
    position nearest the framing that keeps the subject and cuts no face seen."""
    n = 60
    subject = np.tile([250.0, 40, 370, 330], (n, 1))  # any centre in 269..351 keeps it
    size = largest_crop_size((W, H), 9 / 16)  # 202 px wide
    framing = np.tile([300.0 - size[0] / 2, 0, 300.0 + size[0] / 2, H], (n, 1))
    faces = [np.array([[280.0, 60, 320, 110], [390.0, 60, 430, 110]])] * n
    plain = solve_shot(subject, framing, size, (W, H), FPS)
    assert plain.camera == "stationary" and 390 + 8 < plain.boxes[0, 2] < 430 - 8  # cuts the second face
    held = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)
    assert held.camera == "stationary" and np.ptp(held.boxes[:, 0]) == 0
    assert 370 <= held.boxes[0, 2] <= 390 + 8 + 1  # the subject kept, the face left out (the nearer side)
    # a moving camera is not moved by them
    moving = _moving_subject(80, 1)
    assert np.array_equal(solve_shot(moving, moving, size, (W, H), FPS, faces=[faces[0]] * 80).boxes,
                          solve_shot(moving, moving, size, (W, H), FPS).boxes)


def test_a_close_up_face_wider_than_the_crop_can_hold_stays_framed() -> None:
    """A face filling the frame, wider than any crop can hold without an edge through it (a
    close-up's head box): every crop showing most of it cuts it, so the camera stays on the
    framing instead of leaving the face out to cut none."""
    n = 60
    size = largest_crop_size((W, H), 9 / 16)  # 202 px wide
    head = np.array([238.0, 0, 600, 360])  # 362 px: more than 202 / 0.6
    subject = np.tile([82.0, 0, 640, 360], (n, 1))
    framing = np.tile([318.0, 0, 318.0 + size[0], H], (n, 1))
    path = solve_shot(subject, framing, size, (W, H), FPS, faces=[head[None]] * n)
    assert path.camera == "stationary"
    assert head[0] < path.boxes[0, 0] and path.boxes[0, 2] < head[2]  # inside the face, as framed
    assert abs(path.boxes[0, 0] - 318) <= 2
    spans = holdable_faces(np.array([[238.0, 600], [300, 420], [0, 336], [0, 338]]), np.arange(4), size[0])
    assert spans.spans.tolist() == [[300.0, 420.0], [0.0, 336.0]]  # 362 and 338 px are too wide, 336 is not
    assert spans.frame.tolist() == [1, 2]


def test_a_still_camera_on_a_wide_group_leaves_the_framing_to_keep_faces_whole() -> None:
    """A still group twice as wide as the crop, framed on one part and then another (a steady
    framing between the two): every position near it puts an edge through a face, so the camera
    holds at the nearest position inside the group that cuts none."""
    n = 100
    subject = np.tile([100.0, 40, 520, 330], (n, 1))
    size = largest_crop_size((W, H), 9 / 16)  # 202 px wide
    cx = np.where(np.arange(n) // 10 % 2 == 0, 250.0, 370.0)
    framing = np.stack([cx - size[0] / 2, np.zeros(n), cx + size[0] / 2, np.full(n, H)], axis=1)
    faces = [np.array([[250.0, 60, 300, 110], [440.0, 60, 490, 110]])] * n
    spans = np.concatenate(faces)[:, [0, 2]]
    near = solve_shot(subject, framing, size, (W, H), FPS)
    held = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)

    def centre(shot) -> float:
        return float((shot.boxes[0, 0] + shot.boxes[0, 2]) / 2)

    assert near.camera == held.camera == "stationary" and np.ptp(held.boxes[:, 0]) == 0
    def cuts(shot) -> bool:  # an edge 20-80 % into one of the 50 px faces
        return any(f0 + 10 < e < f1 - 10 for e in shot.boxes[0, [0, 2]] for f0, f1 in spans)

    assert cuts(near) and not cuts(held)
    assert held.boxes[0, 0] >= subject[0, 0] and held.boxes[0, 2] <= subject[0, 2]  # inside the group
    assert abs(centre(held) - 370) <= 25  # the nearest such position to the framing


def test_fewest_cut_counts_faces_20_to_80_percent_inside_and_prefers_the_nearest() -> None:
    spans = np.array([[100.0, 140.0]] * 3)  # one face over three frames, near a 200 px crop's left edge
    # centres 208..232 put the crop's edge 108..132: 80..20 % of the face inside, a cut
    assert fewest_cut(180.0, 260.0, 218.0, 200, spans) == pytest.approx(208.0)  # the nearer side
    assert fewest_cut(180.0, 260.0, 226.0, 200, spans) == pytest.approx(232.0)
    assert fewest_cut(180.0, 260.0, 245.0, 200, spans) == pytest.approx(245.0)  # nothing cut there already
    assert fewest_cut(220.0, 220.0, 220.0, 200, spans) == pytest.approx(220.0)  # no choice
    # a face wider than the crop is one face, cut once even when both edges pass through it
    wide = np.array([[0.0, 500.0], [25.0, 75.0]])  # a close-up, and a face cut by left edges 35..65
    assert fewest_cut(100.0, 400.0, 250.0, 200, wide) == pytest.approx(250.0)  # counted twice, 200 would win
    # a face of no width (clipped away) cuts nothing, and nothing is gained by it
    assert fewest_cut(0.0, 100.0, 60.0, 40, np.array([[70.0, 70.0], [80.0, 70.0]])) == pytest.approx(60.0)


def test_free_room_is_half_the_room_less_a_margin_of_the_subject_and_none_for_a_wide_one() -> None:
    low, high = np.array([100.0, 100.0, 100.0]), np.array([140.0, 280.0, 400.0])  # 40, 180, 300 px
    free = free_room(low, high, 200, PathConfig(free_room=0.5, free_margin=0.15))
    assert free.tolist() == pytest.approx([0.5 * (80 - 6), 0.0, 0.0])  # 180 px: margin 27 > room 10


def test_camera_labels() -> None:
    assert camera_of(np.full(10, 5.0)) == "stationary"
    assert camera_of(np.linspace(0, 50, 10)) == "pan"
    assert camera_of(np.concatenate([np.linspace(0, 50, 10), np.linspace(50, 0, 10)])) == "track"


def test_path_config_validates() -> None:
    with pytest.raises(ValueError):
        PathConfig(max_speed=0.0)
    with pytest.raises(ValueError):
        PathConfig(motion_slack=(-0.1,))
    with pytest.raises(ValueError):
        PathConfig(cut_cost=-1.0)
    with pytest.raises(ValueError):
        PathConfig(max_step=0.0)
    with pytest.raises(ValueError):
        PathConfig().step_limit(0.0)
    assert PathConfig().step_limit(50.0) == PathConfig().max_speed / 50.0  # above 25 fps: the speed per second
    assert PathConfig().step_limit(10.0) == PathConfig().max_step


def _pan(n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """A 126 px subject estimate drifting left 1.6 px a frame, framed in its middle: ``(subject,
    framing, framing centres, crop size)``."""
    x = 215.0 - 1.6 * np.arange(n)
    subject = np.stack([x, np.full(n, 115.0), x + 126, np.full(n, 290.0)], axis=1)
    framing_cx = x + 63
    size = largest_crop_size((W, H), 9 / 16)
    framing = np.stack([framing_cx - size[0] / 2, np.zeros(n), framing_cx + size[0] / 2, np.full(n, H)], axis=1)
    return subject, framing, framing_cx, size


def _moved(boxes: np.ndarray) -> float:
    return float(np.abs(np.diff((boxes[:, 0] + boxes[:, 2]) / 2)).sum())


def test_the_pulled_path_keeps_the_crop_near_the_framing_not_on_the_corridor_edge() -> None:
    """Without a motion bound (the pulled path): the subject estimate narrower than the crop,
    panning with the camera, framed in the middle: from the shot's first frame the crop stays clear
    of the corridor's edges, within 0.9 of the room the estimate leaves (least motion alone rests on
    the trailing edge), and pans less than the subject moves (the free room: the subject may drift
    inside the crop); without a free room it stays on the framing."""
    subject, framing, framing_cx, size = _pan()
    pulled = PathConfig(motion_slack=())
    shot = solve_shot(subject, framing, size, (W, H), FPS, pulled)
    centres = (shot.boxes[:, 0] + shot.boxes[:, 2]) / 2
    room = (size[0] - 126) / 2
    assert np.abs(centres - framing_cx).max() <= 0.9 * room
    assert 0 < abs(centres[-1] - centres[0]) < abs(framing_cx[-1] - framing_cx[0])
    assert shot.camera == "pan"
    pinned = solve_shot(subject, framing, size, (W, H), FPS, PathConfig(free_room=0.0, motion_slack=()))
    assert np.abs((pinned.boxes[:, 0] + pinned.boxes[:, 2]) / 2 - framing_cx).max() <= 2



def test_the_camera_moves_no_more_than_keeping_the_subject_needs() -> None:
    """By default a moving camera moves as little as keeping the subject estimate needs (the least
    motion in its corridor, with the solver's pixel of room and the crops' rounding), far less than
    the pulled path, and keeps the estimate in every frame."""
    subject, framing, _, size = _pan()
    shot = solve_shot(subject, framing, size, (W, H), FPS)
    lo, hi = keep_corridor(subject[:, 0], subject[:, 2], size[0], W)
    least = float(np.abs(np.diff(least_motion_path(lo, hi))).sum())
    assert shot.camera == "pan"
    assert _moved(shot.boxes) <= least + 2
    assert _moved(shot.boxes) < 0.5 * _moved(solve_shot(subject, framing, size, (W, H), FPS, PathConfig(motion_slack=())).boxes)
    assert ((shot.boxes[:, 0] <= subject[:, 0] + 1) & (shot.boxes[:, 2] >= subject[:, 2] - 1)).all()


def test_a_moving_camera_spends_motion_to_keep_faces_whole() -> None:
    """A face on the subject estimate's leading side: least motion would rest the crop's edge on
    it; with the faces given, the edges run no deeper into them than the pulled path's (not at
    all), at the cost of more motion."""
    subject, framing, _, size = _pan()
    faces = [np.array([[b[0] - 20.0, 120, b[0] + 20.0, 160]]) for b in subject]  # across the left edge
    spans = FaceSpans(np.concatenate(faces)[:, [0, 2]], np.arange(len(faces)))

    def depth(boxes: np.ndarray) -> float:
        return edge_depth((boxes[:, 0] + boxes[:, 2]) / 2.0, size[0], spans)

    blind = solve_shot(subject, framing, size, (W, H), FPS)
    pulled = solve_shot(subject, framing, size, (W, H), FPS, PathConfig(motion_slack=()), faces=faces)
    seen = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)
    assert depth(blind.boxes) > 1 and depth(pulled.boxes) == 0
    assert depth(seen.boxes) == 0
    assert _moved(seen.boxes) > _moved(blind.boxes)
    # faces the crop's edges never come near leave the steadiest path as it is
    middle = [np.array([[b[0] + 53.0, 120, b[0] + 73.0, 160]]) for b in subject]
    assert np.array_equal(solve_shot(subject, framing, size, (W, H), FPS, faces=middle).boxes, blind.boxes)
    with pytest.raises(ValueError, match="one"):
        solve_shot(subject, framing, size, (W, H), FPS, faces=middle[:-1])


def test_a_looser_bound_is_tried_when_the_steadiest_path_runs_into_a_face() -> None:
    """A face left of the subject in the middle of the pan, where the steadiest path's left edge
    runs into it and the pulled path's does not: the bound of 1.3 x the least motion is taken,
    which keeps clear of it and still moves far less than the pulled path."""
    subject, framing, _, size = _pan()
    n = len(subject)
    faces = [np.array([[b[0] - 27.0, 120, b[0] - 11.0, 150]]) if 20 <= i < 40 else np.zeros((0, 4))
             for i, b in enumerate(subject)]
    spans = FaceSpans(np.concatenate(faces)[:, [0, 2]], np.arange(20, 40))

    def depth(boxes: np.ndarray) -> float:
        return edge_depth((boxes[:, 0] + boxes[:, 2]) / 2.0, size[0], spans)

    steadiest = solve_shot(subject, framing, size, (W, H), FPS, PathConfig(motion_slack=(0.0,)))
    pulled = solve_shot(subject, framing, size, (W, H), FPS, PathConfig(motion_slack=()))
    looser = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)
    assert depth(steadiest.boxes) > 0 and depth(pulled.boxes) == 0 and len(faces) == n
    assert depth(looser.boxes) == 0
    assert _moved(steadiest.boxes) < _moved(looser.boxes) <= 1.3 * _moved(steadiest.boxes) + 2
    assert _moved(looser.boxes) < 0.5 * _moved(pulled.boxes)


def test_edge_depth_weighs_each_edge_by_how_near_the_face_middle_it_runs() -> None:
    spans = FaceSpans(np.array([[100.0, 140.0], [100.0, 140.0], [0.0, 500.0]]), np.array([0, 1, 1]))
    # frame 0's left edge at 110: a quarter into the 40 px face; frame 1's crop 50..250 holds the
    # small face whole, and its edges run 50 and 250 px into the close-up (0.1 and 0.5 of its side)
    assert edge_depth(np.array([210.0, 150.0]), 200, spans) == pytest.approx(0.25 + 0.1 + 0.5)
    assert edge_depth(np.array([120.0, 150.0]), 200, spans) == pytest.approx(0.6)  # frame 0's face outside
    # both edges through the close-up (150 and 350 px): each counts
    assert edge_depth(np.array([300.0, 250.0]), 200, spans) == pytest.approx(150 / 500 + 150 / 500)


def _group_panning_past(start: float, drift: float, n: int = 60) -> tuple[np.ndarray, np.ndarray, list[np.ndarray],
                                                                          tuple[int, int]]:
    """Three people in a row 372 px wide, wider than a 4:5 crop (288 px), their left side at
    ``start`` drifting left ``drift`` px a frame, framed in their middle: ``(subject, framing,
    faces per frame, crop size)``."""
    x = start - drift * np.arange(n, dtype=np.float64)
    subject = np.stack([x, np.full(n, 40.0), x + 372, np.full(n, 330.0)], axis=1)
    size = largest_crop_size((W, H), 4 / 5)
    cx = x + 186
    framing = np.stack([cx - size[0] / 2, np.zeros(n), cx + size[0] / 2, np.full(n, H)], axis=1)
    faces = [np.array([[b + left, 60, b + right, 110] for left, right in ((30, 70), (135, 185), (290, 330))])
             for b in x]
    return subject, framing, faces, size


def _box_cuts(boxes: np.ndarray, faces: list[np.ndarray], extent: int) -> int:
    """Faces cut by the crops ``boxes`` (whole pixels, as rendered), counted per frame."""
    spans = FaceSpans(np.concatenate(faces)[:, [0, 2]], np.repeat(np.arange(len(faces)), [len(f) for f in faces]))
    return cut_count((boxes[:, 0] + boxes[:, 2]) / 2.0, extent, spans)


@pytest.mark.parametrize(("start", "drift"), [(200.0, 1.0), (200.7, 1.13), (180.2, 0.61)])
def test_a_camera_on_a_group_wider_than_the_crop_keeps_its_edges_between_faces(start: float, drift: float) -> None:
    """The group drifts past (by whole and fractional pixels a frame): a camera that only keeps the
    group lets the faces cross its edges; given the faces, it follows the group with its edges
    between them and cuts none in the rounded crops, inside the group and within the speed limit."""
    subject, framing, faces, size = _group_panning_past(start, drift)
    blind = solve_shot(subject, framing, size, (W, H), FPS)
    seen = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)
    assert _box_cuts(blind.boxes, faces, size[0]) > 20 and _box_cuts(seen.boxes, faces, size[0]) == 0
    _check_boxes(seen.boxes, size)
    assert ((seen.boxes[:, 0] >= subject[:, 0] - 1) & (seen.boxes[:, 2] <= subject[:, 2] + 1)).all()
    assert np.abs(np.diff(seen.boxes[:, 0])).max() <= MAX_STEP
    assert seen.camera == "pan"


def test_cut_cost_bounds_the_motion_spent_to_keep_faces_whole() -> None:
    """A slow drift a still camera can hold (cutting faces as they pass): the face-clear path pans
    with the group; with ``cut_cost=0`` that extra motion is not spent and the camera holds still."""
    subject, framing, faces, size = _group_panning_past(180.2, 0.61)
    seen = solve_shot(subject, framing, size, (W, H), FPS, faces=faces)
    thrifty = solve_shot(subject, framing, size, (W, H), FPS, PathConfig(cut_cost=0.0), faces=faces)
    assert seen.camera == "pan" and _box_cuts(seen.boxes, faces, size[0]) == 0
    assert thrifty.camera == "stationary" and _box_cuts(thrifty.boxes, faces, size[0]) > 20


def test_clear_intervals_leave_out_the_centres_whose_edges_cut_a_face() -> None:
    # a 200 px crop, a face at 100..140 in frame 0 (cut by an edge at 108..132), none in frame 1
    spans = FaceSpans(np.array([[100.0, 140.0], [150.0, 150.0]]), np.array([0, 0]))  # and one of no width
    out = clear_intervals(np.array([0.0, 0.0]), np.array([300.0, 300.0]), 200, spans)
    assert out[0].tolist() == [[0.0, 7.5], [32.5, 207.5], [232.5, 300.0]]  # half a pixel clear: rounding
    assert out[1].tolist() == [[0.0, 300.0]]
    # a corridor inside a banned span leaves nothing
    alone = FaceSpans(spans.spans[:1], np.array([0]))
    assert clear_intervals(np.array([210.0]), np.array([230.0]), 200, alone)[0].shape == (0, 2)
    # two faces whose banned centres overlap or nest, listed out of frame order
    two = FaceSpans(np.array([[300.0, 340.0], [100.0, 140.0], [110.0, 130.0], [120.0, 160.0]]), np.array([1, 0, 0, 0]))
    out = clear_intervals(np.array([0.0, 0.0]), np.array([300.0, 300.0]), 200, two)
    assert out[0].tolist() == [[0.0, 7.5], [52.5, 207.5], [252.5, 300.0]]  # zones 8..52 and 208..252
    assert out[1].tolist() == [[0.0, 207.5], [232.5, 300.0]]


def test_clear_route_stays_in_reach_and_takes_none_when_a_cut_costs_less() -> None:
    two = np.array([[0.0, 10.0], [50.0, 60.0]])
    preferred = np.array([55.0, 20.0])
    # 40 px between the intervals: a 5 px-per-frame camera cannot switch; staying costs 30 px
    assert clear_route([two, two], preferred, 5.0, 100.0) == [1, 1]
    assert clear_route([two, two], preferred, 50.0, 100.0) == [1, 0]  # within reach: the nearer one
    assert clear_route([two, two], preferred, 5.0, 1.0) == [1, 2]  # a cut is cheaper than 30 px
    assert clear_route([two, np.zeros((0, 2))], preferred, 5.0, 100.0) == [1, 0]  # frame 1 has none: state 0 = none
    assert clear_route([], np.zeros(0), 5.0, 1.0) == []


def test_clear_route_backtracks_out_of_a_dead_end_and_checks_reach_through_none() -> None:
    # frame 0 prefers the interval at 0..10, but frames 1-3 only have one at 30..40, 4 px a frame
    # away from nothing: a route that starts at 0..10 must pass through none; from 20..30 it need not
    start = np.array([[0.0, 10.0], [20.0, 30.0]])
    later = np.array([[30.0, 40.0]])
    preferred = np.array([5.0, 35.0, 35.0, 35.0])
    assert clear_route([start, later, later, later], preferred, 4.0, 100.0) == [1, 0, 0, 0]
    # a frame with none spans its fallback corridor (100..110): out of reach of every interval at
    # 5 px a frame, so the route cannot switch sides through it, and is none throughout
    side = np.array([[0.0, 10.0], [200.0, 210.0]])
    none = np.zeros((0, 2))
    fallback = (np.full(3, 100.0), np.full(3, 110.0))
    assert clear_route([side, none, side], np.array([5.0, 5.0, 205.0]), 5.0, 1000.0, fallback) == [2, 0, 2]
    assert clear_route([side, none, side], np.array([5.0, 5.0, 205.0]), 5.0, 1000.0) == [0, 0, 1]  # none: anywhere
