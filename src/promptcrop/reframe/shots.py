"""Shot detection on the analysis frames (hard cuts, with PySceneDetect's content detectors, and dips to black).

:class:`CutDetector` is fed the frames one by one, in order, as the analysis decodes them, and
says where a new shot starts. PySceneDetect scores the change of hue, saturation and luma between
consecutive frames, and its ``AdaptiveDetector`` compares a frame's change with the mean change of
the ``ADAPTIVE_WINDOW`` frames on either side (so a cut is reported ``ADAPTIVE_WINDOW`` frames
late, and :meth:`CutDetector.finish` judges the last ones). A frame is a cut when its change is
above ``threshold`` and at least ``spike_ratio`` times its neighbours' **or** at least
``adaptive_ratio`` times theirs and above ``min_change``. The
second finds cuts between two shots of similar colour (two grey scenes: a change of 20 where the
frames around change by 4), which the fixed threshold misses. The ratio in the first keeps fast
motion from making cuts: a splash, or large letters sweeping past the camera, change the picture
as much as a cut does, but over many frames in a row, while a cut is one frame's change among
small ones (docs/REFRAME.md, "Seventeenth pass", has the measurements).
A fade or a cut through black changes each frame too little for either rule; blank frames
(:data:`BLANK_SPREAD`, at least :data:`DIP_MIN_FRAMES`) after a picture start a new shot after the
blankest of them, reported when the picture returns (up to :data:`DIP_WINDOW` frames late).
The detectors see a copy of each frame reduced to :data:`DETECT_SIDE` pixels (the score is a mean
over pixels, so the reduction changes little and makes it cheap).

Shots are ``[start, end)`` frame ranges covering every frame once, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from promptcrop.errors import RequestError
from promptcrop.validation import require_number, require_positive_int

#: Long side (px) of the frame copy the detector scores.
DETECT_SIDE = 256
#: PySceneDetect's default content threshold (0-255 scale of the weighted HSV change).
DEFAULT_THRESHOLD = 27.0
#: A change above the threshold is a cut when it is at least this many times its neighbours'.
DEFAULT_SPIKE_RATIO = 2.0
#: Shortest shot, in seconds (a flash or a fast pan shorter than this is not a cut).
DEFAULT_MIN_SHOT_S = 0.4
#: PySceneDetect's AdaptiveDetector defaults: a change this many times its neighbours' mean ...
DEFAULT_ADAPTIVE_RATIO = 3.0
#: ... and at least this large is a cut; the neighbours are this many frames on either side.
DEFAULT_MIN_CHANGE = 15.0
ADAPTIVE_WINDOW = 2
#: A frame whose every colour channel spreads less than this (standard deviation over its pixels,
#: 0-255 levels) is blank: black, white or one flat colour (a lead-in, a fade's end). Blank frames
#: after a picture are a dip to black between two scenes: a new shot starts after the blankest of
#: them (:class:`CutDetector`); the analysis predicts nothing on a blank frame
#: (:mod:`promptcrop.reframe.subjects`).
BLANK_SPREAD = 3.0
#: A dip is at least this many blank frames (one is a dropped or glitched frame) ...
DIP_MIN_FRAMES = 2
#: ... and its cut comes after the blankest of its last this many frames, so that it is reported at
#: most this many frames late (the analysis keeps the last few frames for cuts found late).
DIP_WINDOW = 6


@dataclass(frozen=True)
class ShotConfig:
    """``threshold``: content change (PySceneDetect's scale, default 27) that makes a cut when it
    is at least ``spike_ratio`` times its neighbours'; ``adaptive_ratio`` and ``min_change``: a
    change that many times its neighbours' and at least ``min_change`` is a cut too (see the module
    docstring); ``min_shot_s``: shortest shot in seconds."""

    threshold: float = DEFAULT_THRESHOLD
    min_shot_s: float = DEFAULT_MIN_SHOT_S
    adaptive_ratio: float = DEFAULT_ADAPTIVE_RATIO
    min_change: float = DEFAULT_MIN_CHANGE
    spike_ratio: float = DEFAULT_SPIKE_RATIO

    def __post_init__(self) -> None:
        require_number("threshold", self.threshold, 0.0, 255.0, low_open=True)
        require_number("min_shot_s", self.min_shot_s, 0.0, None)
        require_number("adaptive_ratio", self.adaptive_ratio, 1.0, None, low_open=True)
        require_number("min_change", self.min_change, 0.0, 255.0)
        require_number("spike_ratio", self.spike_ratio, 1.0, None)


class CutDetector:
    """Hard cuts and dips to black of one video, found online: :meth:`feed` each frame in order; it
    returns the indices where new shots start (a cut may be reported a few frames after the frame
    that starts the shot: see the module docstring)."""

    def __init__(self, fps: float, config: ShotConfig = ShotConfig()) -> None:
        try:
            from scenedetect.common import FrameTimecode
            from scenedetect.detectors import AdaptiveDetector
        except ImportError:
            from promptcrop.reframe.video import INSTALL_HINT

            raise RequestError(INSTALL_HINT) from None
        self._timecode = FrameTimecode
        self.fps = float(fps) if fps > 0 else 25.0
        self._min_len = max(1, round(config.min_shot_s * self.fps))
        self._detectors = tuple(
            AdaptiveDetector(adaptive_threshold=ratio, min_scene_len=self._min_len, window_width=ADAPTIVE_WINDOW,
                             min_content_val=least)
            for ratio, least in ((config.spike_ratio, config.threshold), (config.adaptive_ratio, config.min_change))
        )
        self.cuts: list[int] = []
        self._last: tuple[int, np.ndarray] | None = None
        self._shown = False  # a frame showing something has been fed
        self._dip: list[tuple[int, float]] = []  # the blank frames since then: (index, spread)

    def feed(self, index: int, rgb: np.ndarray) -> list[int]:
        """Score frame ``index`` (upright ``[h, w, 3]`` uint8 RGB); returns new shot starts found now."""
        small = np.ascontiguousarray(_reduce(rgb, DETECT_SIDE)[..., ::-1])  # PySceneDetect reads BGR
        self._last = (index, small)
        return sorted(self._found(index, small) + self._after_dip(index, spread(small)))

    def finish(self) -> list[int]:
        """After the last frame: the shot starts among the last frames (the detectors judge a frame
        once :data:`ADAPTIVE_WINDOW` frames follow it; the last frame repeated, unchanged, follows)."""
        if self._last is None:
            return []
        index, small = self._last
        return [start for extra in range(1, ADAPTIVE_WINDOW + 1) for start in self._found(index + extra, small)
                if start <= index]

    def _found(self, index: int, small: np.ndarray) -> list[int]:
        timecode = self._timecode(index, fps=self.fps)
        found = sorted({int(t.frame_num) for d in self._detectors for t in d.process_frame(timecode, small)})
        return [start for start in found if self._take(start)]  # both detectors may report one cut

    def _after_dip(self, index: int, level: float) -> list[int]:
        """The shot start found at frame ``index`` (its :func:`spread` ``level``), when it is the first
        to show something after at least :data:`DIP_MIN_FRAMES` blank frames that followed a picture
        (a fade or a cut through black): the frame after the blankest of the last :data:`DIP_WINDOW`
        of them (the last, on a tie), ``[start]`` or ``[]``."""
        if level < BLANK_SPREAD:
            if self._shown:
                self._dip = [*self._dip[1 - DIP_WINDOW :], (index, level)]
            return []
        self._shown = True
        dip, self._dip = self._dip, []
        if len(dip) < DIP_MIN_FRAMES:  # the run may be longer than the window: its frames are consecutive
            return []
        blankest = min(dip, key=lambda frame: (frame[1], -frame[0]))[0]
        return [blankest + 1] if self._take(blankest + 1) else []

    def _take(self, start: int) -> bool:
        """Record ``start`` as a cut unless it is within a shortest shot of the first frame or a cut."""
        if start >= self._min_len and all(abs(start - c) >= self._min_len for c in self.cuts):
            self.cuts.append(start)
            return True
        return False


def spread(rgb: np.ndarray) -> float:
    """How much an ``[h, w, 3]`` uint8 frame varies: the largest standard deviation of a colour
    channel over its pixels (every 4th pixel counts), 0-255 levels."""
    sample = rgb[::4, ::4].reshape(-1, rgb.shape[-1])
    return float(sample.std(axis=0).max())


def is_blank(rgb: np.ndarray) -> bool:
    """Whether an ``[h, w, 3]`` uint8 frame is blank (:data:`BLANK_SPREAD`)."""
    return spread(rgb) < BLANK_SPREAD


def _reduce(rgb: np.ndarray, side: int) -> np.ndarray:
    """Every n-th pixel so the long side is at most about ``side`` (no filtering: a score input)."""
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / side)))
    return rgb[::step, ::step]


def shots_from_cuts(cuts: Sequence[int], frame_count: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges from the shot starts ``cuts`` (sorted, deduplicated, inside the video)."""
    require_positive_int("frame_count", frame_count)
    starts = sorted({c for c in cuts if 0 < c < frame_count})
    bounds = [0, *starts, frame_count]
    return list(zip(bounds[:-1], bounds[1:]))
