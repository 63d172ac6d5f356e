"""Cut detection: hard cuts found on their frame, once, including cuts between shots of similar
colour; a moving shot without cuts has none."""

from __future__ import annotations

import numpy as np

from optional import require

require("scenedetect")

from promptcrop.reframe.shots import DIP_WINDOW, CutDetector, ShotConfig, shots_from_cuts  # noqa: E402

FPS = 25.0


def _shot(level: int, n: int, seed: int) -> list[np.ndarray]:
    """``n`` grey frames of brightness ``level`` with a texture drifting 2 px a frame."""
    texture = np.random.default_rng(seed).integers(-12, 13, (90, 200), dtype=np.int16)
    frames = []
    for i in range(n):
        grey = np.clip(level + np.roll(texture, 2 * i, axis=1)[:, :160], 0, 255).astype(np.uint8)
        frames.append(np.repeat(grey[..., None], 3, axis=2))
    return frames


def _cuts(frames: list[np.ndarray], config: ShotConfig = ShotConfig()) -> list[int]:
    detector = CutDetector(FPS, config)
    for i, frame in enumerate(frames):
        detector.feed(i, frame)
    return detector.cuts


def test_a_cut_between_two_grey_shots_is_found_once_on_its_frame() -> None:
    frames = _shot(80, 30, 0) + _shot(140, 30, 1) + _shot(10, 30, 2)
    assert _cuts(frames) == [30, 60]
    # the fixed threshold alone (no adaptive cut: ratio out of reach) misses the first, milder cut
    assert _cuts(frames, ShotConfig(adaptive_ratio=255.0)) == [60]


def test_a_moving_shot_has_no_cut() -> None:
    assert _cuts(_shot(100, 60, 3)) == []


def test_shots_cover_every_frame() -> None:
    assert shots_from_cuts([30, 30, 0, 60, 99], 90) == [(0, 30), (30, 60), (60, 90)]


def _splash(frames: list[np.ndarray], start: int, end: int, ramp: int = 6) -> list[np.ndarray]:
    """``frames`` with new coloured dots strewn over every frame from ``start`` to ``end`` (thickest
    in the middle, ``ramp`` frames to build up and to clear): each frame changes as much as a cut."""
    out = []
    for i, frame in enumerate(frames):
        density = float(np.clip(min(i - start, end - i) / ramp, 0, 1)) * 0.5
        frame = frame.copy()
        frame[np.random.default_rng(100 + i).random(frame.shape[:2]) < density] = (40, 120, 230)
        out.append(frame)
    return out


def test_a_splash_over_many_frames_is_no_cut_but_a_cut_after_it_is_found() -> None:
    """Fast motion (a splash, letters sweeping past) changes each frame as much as a cut, but over
    many frames in a row: a cut is a spike among its neighbours."""
    frames = _splash(_shot(100, 50, 4), 20, 45) + _shot(30, 30, 5)
    assert _cuts(frames) == [50]
    assert 22 in _cuts(frames, ShotConfig(spike_ratio=1.0))  # without the spike rule, the splash cuts


def test_a_cut_among_the_last_frames_is_found_when_the_video_ends() -> None:
    """The detectors judge a frame once two more follow; the end of the video judges the last ones."""
    detector = CutDetector(FPS)
    frames = _shot(80, 40, 0) + _shot(10, 2, 1)
    for i, frame in enumerate(frames):
        detector.feed(i, frame)
    assert detector.cuts == []
    assert detector.finish() == [40] and detector.cuts == [40]
    assert CutDetector(FPS).finish() == []  # nothing fed


def _faded(frames: list[np.ndarray], out: bool) -> list[np.ndarray]:
    """``frames`` fading to black (``out``) or up from black, linearly over their length."""
    n = len(frames)
    levels = [(n - 1 - i) / (n - 1) if out else i / (n - 1) for i in range(n)]
    return [(frame * level).astype(np.uint8) for frame, level in zip(frames, levels)]


def test_a_dip_to_black_starts_a_shot_after_its_blackest_frame() -> None:
    """A fade out to black and in again changes each frame a little — no spike — but blank frames
    after a picture are a dip between two scenes: the new shot starts after the blackest (the last,
    on a tie); black frames opening the video are no cut."""
    black = [np.zeros((90, 160, 3), np.uint8)] * 3
    first, second = _shot(120, 40, 6), _shot(120, 40, 7)
    frames = black + first[:28] + _faded(first[28:], out=True) + black + _faded(second[:12], out=False) + second[12:]
    blackest = max(i for i in range(3, len(frames)) if not frames[i].any())  # the fade-in's first frame
    assert _cuts(frames) == [blackest + 1]
    assert _cuts(black + first) == []  # a lead-in from black is no cut
    assert _cuts(first + _faded(second[:12], out=True) + black) == []  # a fade out at the end is no cut


def test_a_long_dip_cuts_within_its_last_frames_and_one_blank_frame_is_no_dip() -> None:
    """The cut of a long dip is reported within DIP_WINDOW frames (the analysis keeps only the last
    few frames for cuts found late), even when its blackest frame came first; one blank frame alone
    (a dropped frame) is no dip."""
    first, second = _shot(120, 40, 8), _shot(120, 40, 9)
    rng = np.random.default_rng(10)
    dark = [np.repeat(np.clip(rng.normal(3, 1.0, (90, 160, 1)), 0, 255), 3, axis=2).astype(np.uint8)
            for _ in range(12)]  # grey noise, blank
    frames = first[:28] + _faded(first[28:], out=True) + dark + second  # the blackest: the fade's last frame
    detector = CutDetector(FPS)
    reported = {start: i for i, frame in enumerate(frames) for start in detector.feed(i, frame)}
    back = len(first)  # the picture's first frame after the dip
    assert list(reported.values()) == [back + len(dark)]  # one cut, found when the picture returns
    start = next(iter(reported))
    assert len(first) < start <= back + len(dark) and back + len(dark) - start < DIP_WINDOW
    dips_only = ShotConfig(threshold=255.0, adaptive_ratio=255.0, min_change=255.0)  # no content cut
    black = np.zeros((90, 160, 3), np.uint8)
    assert _cuts(first + [black] + second, dips_only) == []
    assert _cuts(first + [black, black] + second, dips_only) == [len(first) + 2]
