"""``promptcrop.reframe.motion``: what moved between two frames, after the camera's own shift, and
only when it is a small part of the frame."""

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
