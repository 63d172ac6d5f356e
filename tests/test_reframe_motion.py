"""``promptcrop.reframe.motion``: what moved between two frames, after the camera's own shift, and
only when it is a small part of the frame, or one compact region of a still camera's."""

import numpy as np
import pytest

from promptcrop.reframe import motion as M


def scene(width: int = 320, height: int = 180, seed: int = 0) -> np.ndarray:
    """A still, textured background (grey-green noise at two scales): uint8 ``[H, W, 3]``."""
    rng = np.random.default_rng(seed)
    coarse = np.kron(rng.normal(0.0, 1.0, (height // 8 + 1, width // 8 + 1)), np.ones((8, 8)))[:height, :width]
    grey = 110 + 30 * coarse + rng.normal(0.0, 6.0, (height, width))
    return np.clip(np.stack([grey, grey * 1.1, grey * 0.9], axis=-1), 0, 255).astype(np.uint8)


def with_ball(frame: np.ndarray, x: int, y: int, side: int = 12) -> np.ndarray:
    out = frame.copy()
    out[y : y + side, x : x + side] = (240, 220, 40)
    return out


def test_a_small_thing_moving_in_a_still_scene_is_where_the_map_peaks():
    background = scene()
    before, now = with_ball(background, 60, 80), with_ball(background, 90, 70)
    found = M.motion_map(now, before)
    assert found is not None and found.shape == (90, M.MOTION_WIDTH)
    peak_y, peak_x = np.unravel_index(int(np.argmax(found)), found.shape)
    # at half size the ball goes from x 30-36, y 40-46 to x 45-51, y 35-41: the peak is on either
    assert 28 <= peak_x <= 53 and 33 <= peak_y <= 48
    assert found.max() > 4 * M.MOVING_LEVEL


def test_a_pan_alone_leaves_no_motion_and_one_with_a_mover_keeps_the_mover():
    wide = scene(400, 180)
    before, now = wide[:, 40:360], wide[:, 56:376]  # the camera pans 16 px
    assert M.global_shift(M.grey_copy(now), M.grey_copy(before)) == (0, -8)  # 16 px at half size
    assert M.motion_map(now, before) is None
    moved = with_ball(now, 200, 100)
    found = M.motion_map(moved, before)
    assert found is not None
    _, peak_x = np.unravel_index(int(np.argmax(found)), found.shape)
    assert 95 <= peak_x <= 110


@pytest.mark.parametrize("case", ["cut", "size", "still"])
def test_a_cut_a_size_change_or_nothing_moving_is_no_cue(case):
    first = scene(seed=1)
    if case == "cut":
        second = scene(seed=2)  # another picture: most of the frame changes
    elif case == "size":
        second = scene(300, 180, seed=1)
    else:
        second = first.copy()
    assert M.motion_map(second, first) is None


def with_block(frame: np.ndarray, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> np.ndarray:
    out = frame.copy()
    out[y : y + h, x : x + w] = colour
    return out


def with_figure(frame: np.ndarray, x: int, y: int, w: int = 80, h: int = 110) -> np.ndarray:
    """A textured figure (its own pattern moves with it) pasted at ``x, y``."""
    out = frame.copy()
    out[y : y + h, x : x + w] = scene(w, h, seed=7) // 2 + 120
    return out


def test_a_large_compact_mover_before_a_still_camera_is_the_cue_and_only_it():
    # a figure a quarter of the frame wide stepping in: more than MOVING_SHARE moves, in one region
    background = scene()
    before, now = with_figure(background, 150, 40), with_figure(background, 180, 40)
    moved = M.grey_copy(now) != M.grey_copy(before)
    assert moved.mean() > M.MOVING_SHARE[1]
    found = M.motion_map(now, before)
    assert found is not None
    ys, xs = np.nonzero(found > M.MOVING_LEVEL)
    # at half size the figure spans x 75-130 then 90-145, y 20-75: the cue stays on it
    assert xs.min() >= 70 and xs.max() <= 150 and ys.min() >= 15 and ys.max() <= 80
    region = M.compact_mover(found > M.MOVING_LEVEL)
    assert region is not None and region.sum() == (found > M.MOVING_LEVEL).sum()


def test_large_motion_spread_over_the_frame_or_seen_by_a_moving_camera_is_no_cue():
    background = scene()
    before, now = background.copy(), background.copy()
    for k, x in enumerate(range(10, 300, 45)):  # letters sweeping past: many movers across the frame
        before = with_block(before, x, 20 + 15 * (k % 3), 20, 40, (250, 250, 250))
        now = with_block(now, x + 12, 20 + 15 * (k % 3), 20, 40, (250, 250, 250))
    assert (M.grey_copy(now) != M.grey_copy(before)).mean() > M.MOVING_SHARE[1]
    assert M.motion_map(now, before) is None
    wide = scene(400, 180)
    before = with_figure(wide[:, 40:360], 150, 40)
    now = with_figure(wide[:, 56:376], 190, 40)  # the same figure, the camera panning
    assert M.global_shift(M.grey_copy(now), M.grey_copy(before)) != (0, 0)
    assert M.motion_map(now, before) is None


def test_a_compact_mover_is_one_region_in_a_small_box():
    moving = np.zeros((90, 160), dtype=bool)
    moving[20:60, 40:80] = True
    assert M.compact_mover(moving).sum() == 1600
    moving[5:9, 150:155] = True  # a speck elsewhere: the region still holds nearly all of it
    assert M.compact_mover(moving).sum() == 1600
    scattered = np.zeros((90, 160), dtype=bool)
    scattered[10:40, 10:40] = scattered[50:80, 110:140] = True  # two movers: no one region
    assert M.compact_mover(scattered) is None
    frame_wide = np.zeros((90, 160), dtype=bool)
    frame_wide[10:80, 5:155] = True  # one region, but most of the frame
    frame_wide[30:60, 40:120] = False
    assert M.compact_mover(frame_wide) is None
    assert M.compact_mover(np.zeros((90, 160), dtype=bool)) is None
