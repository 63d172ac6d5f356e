"""Per-frame subject and framing tracks from keyframes: the robust trend follows a steady move
without lag and outvotes a stray keyframe; nothing is carried across a cut."""

from __future__ import annotations

import numpy as np

from promptcrop.reframe.motion import MOTION_GAP
from promptcrop.reframe.shots import is_blank
from promptcrop.reframe.subjects import Keyframe, blank_keyframe, frame_tracks, running_trend

W, H = 640, 360


def _keyframe(index: int, box: np.ndarray, faces: np.ndarray | None = None) -> Keyframe:
    extra = {} if faces is None else {"faces": np.asarray(faces, dtype=np.float64).reshape(-1, 4)}
    return Keyframe(index=index, subject=np.asarray(box, dtype=np.float64), framing={"9:16": np.asarray(box, dtype=np.float64)},
                    padded={"9:16": False}, pad_color={"9:16": None}, matched=(), fallback=None, mode="offline",
                    **extra)


def _panning(at: np.ndarray, speed: float, start: float = 400.0) -> np.ndarray:
    """A subject box 100 px wide moving ``speed`` px per frame, at frame indices ``at``."""
    x = start + speed * at
    return np.stack([x, np.full_like(x, 60.0), x + 100, np.full_like(x, 300.0)], axis=1)


def test_trend_follows_a_steady_move_without_lag_to_the_ends() -> None:
    at = np.arange(0, 60, 5, dtype=np.float64)
    boxes = _panning(at, -2.5)
    assert np.allclose(running_trend(boxes, at), boxes)


def test_trend_outvotes_a_stray_keyframe_anywhere_in_the_shot() -> None:
    at = np.arange(0, 60, 5, dtype=np.float64)
    boxes = _panning(at, -2.5)
    for stray in (0, 5, len(at) - 1):  # the first keyframe after a cut, the middle, the last
        seen = boxes.copy()
        seen[stray] = [20.0, 0, 120, 200]
        assert np.allclose(running_trend(seen, at), boxes), stray


def test_trend_outvotes_two_keyframes_in_a_row_that_take_in_the_background() -> None:
    """Real video's keyframes disagree more often than a stray one: a region that also takes in
    something beside the subject on two keyframes in a row, every sixth, does not move the trend."""
    at = np.arange(0, 120, 5, dtype=np.float64)
    boxes = _panning(at, -1.0)
    seen = boxes.copy()
    seen[np.isin(np.arange(len(at)) % 6, [1, 2]), 2] += 400  # the region reaches across the background
    assert np.allclose(running_trend(seen, at), boxes)


def test_trend_leaves_fewer_than_three_keyframes_as_they_are() -> None:
    at = np.array([0.0, 5.0])
    boxes = np.array([[0.0, 0, 10, 10], [50.0, 0, 60, 10]])
    assert np.array_equal(running_trend(boxes, at), boxes)


def test_tracks_start_each_shot_at_its_own_keyframes() -> None:
    """The first frame of a shot is that shot's subject, whatever the shot before it showed."""
    left, right = np.array([40.0, 60, 140, 300]), np.array([480.0, 60, 580, 300])
    keys = [_keyframe(i, left) for i in (0, 5, 10, 15, 19)] + [_keyframe(i, right) for i in (20, 25, 30, 35, 39)]
    tracks = frame_tracks(keys, [(0, 20), (20, 40)], "9:16", (W, H))
    assert np.allclose(tracks.subject[:20], left) and np.allclose(tracks.subject[20:], right)
    assert np.allclose(tracks.framing[19], left) and np.allclose(tracks.framing[20], right)


def test_each_frame_takes_the_faces_of_the_nearest_keyframe_of_its_shot() -> None:
    box = np.array([200.0, 60, 300, 300])
    face = np.array([[230.0, 70, 260, 110]])
    keys = [_keyframe(0, box), _keyframe(10, box, face), _keyframe(19, box), _keyframe(20, box, face + 300)]
    tracks = frame_tracks(keys, [(0, 20), (20, 30)], "9:16", (W, H))
    assert len(tracks.faces) == 30
    assert [len(f) for f in tracks.faces[:20]] == [0] * 6 + [1] * 9 + [0] * 5  # frame 5 is a tie: the earlier
    assert all(np.array_equal(f, face + 300) for f in tracks.faces[20:])  # never across the cut


def test_a_blank_frame_is_blank_and_a_dark_picture_is_not() -> None:
    rng = np.random.default_rng(0)
    assert is_blank(np.zeros((90, 160, 3), np.uint8))
    assert is_blank(np.clip(rng.normal(12, 1.5, (90, 160, 3)), 0, 255).astype(np.uint8))  # black with noise
    assert is_blank(np.full((90, 160, 3), (200, 40, 40), np.uint8))  # one flat colour
    dark = np.full((90, 160, 3), 10, np.uint8)
    dark[30:70, 60:100] = 60  # a dim figure in the dark
    assert not is_blank(dark)


def test_blank_keyframes_count_for_nothing_while_their_shot_has_others() -> None:
    """A shot that opens on black: its first keyframe (blank, subject the whole frame) must not
    pull the track towards the frame's middle."""
    left = np.array([40.0, 60, 140, 300])
    blank = blank_keyframe(0, (W, H))
    keys = [blank] + [_keyframe(i, left) for i in (1, 6, 11, 16, 19)]
    tracks = frame_tracks(keys, [(0, 20)], "9:16", (W, H))
    assert np.allclose(tracks.subject, left) and np.allclose(tracks.framing, left)
    only_blank = frame_tracks([blank], [(0, 5)], "9:16", (W, H))  # nothing else: the whole frame
    assert np.allclose(only_blank.subject, [0, 0, W, H])


def test_after_a_blank_keyframe_the_first_frame_showing_something_is_one_and_blank_ones_are_not_predicted(
        tmp_path) -> None:
    from promptcrop.reframe.subjects import AnalysisConfig, analyse_video
    from promptcrop.reframe.synthetic import write_clip
    from promptcrop.reframe.video import probe

    frames = np.zeros((30, 72, 128, 3), np.uint8)
    frames[13:, 20:60, 30:70] = (220, 180, 40)  # thirteen black frames, then a yellow square
    info = probe(write_clip(tmp_path / "lead_in.mp4", frames, 25.0))
    predicted, earliers = [], []

    def analyser(frame, full_size, earlier=None):
        predicted.append(frame.index)
        earliers.append(None if earlier is None else earlier.index)
        return _keyframe(frame.index, [30.0, 20, 70, 60])

    analysis = analyse_video(info, analyser, AnalysisConfig(keyframe_rate=5.0), max_seconds=60)
    assert analysis.cuts == [13]  # black to picture: a cut; the black shot's first and last frames only
    assert [k.index for k in analysis.keyframes if k.blank] == [0, 12]
    assert predicted[:2] == [13, 18]  # the first frame that shows something, then every fifth
    # each keyframe comes with the frame MOTION_GAP before it (its motion cue), black or not
    assert earliers[:2] == [13 - MOTION_GAP, 18 - MOTION_GAP]
