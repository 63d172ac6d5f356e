"""Shot (hard cut) detection on the analysis frames, with PySceneDetect's content detector.

:class:`CutDetector` is fed the frames one by one, in order, as the analysis decodes them, and
says where a new shot starts. PySceneDetect's ``ContentDetector`` scores the change of hue,
saturation and luma between consecutive frames; it sees a copy of each frame reduced to
:data:`DETECT_SIDE` pixels (its score is a mean over pixels, so the reduction changes little
and makes it cheap).

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
#: Shortest shot, in seconds (a flash or a fast pan shorter than this is not a cut).
DEFAULT_MIN_SHOT_S = 0.4


@dataclass(frozen=True)
class ShotConfig:
    """``threshold``: content change that makes a cut (PySceneDetect's scale, default 27);
    ``min_shot_s``: shortest shot in seconds."""

    threshold: float = DEFAULT_THRESHOLD
    min_shot_s: float = DEFAULT_MIN_SHOT_S

    def __post_init__(self) -> None:
        require_number("threshold", self.threshold, 0.0, 255.0, low_open=True)
        require_number("min_shot_s", self.min_shot_s, 0.0, None)


class CutDetector:
    """Hard cuts of one video, found online: :meth:`feed` each frame in order; it returns the
    indices where new shots start (a cut may be reported at the frame that shows it)."""

    def __init__(self, fps: float, config: ShotConfig = ShotConfig()) -> None:
        try:
            from scenedetect.common import FrameTimecode
            from scenedetect.detectors import ContentDetector
        except ImportError:
            from promptcrop.reframe.video import INSTALL_HINT

            raise RequestError(INSTALL_HINT) from None
        self._timecode = FrameTimecode
        self.fps = float(fps) if fps > 0 else 25.0
        min_len = max(1, round(config.min_shot_s * self.fps))
        self._detector = ContentDetector(threshold=config.threshold, min_scene_len=min_len)
        self.cuts: list[int] = []

    def feed(self, index: int, rgb: np.ndarray) -> list[int]:
        """Score frame ``index`` (upright ``[h, w, 3]`` uint8 RGB); returns new shot starts found now."""
        small = _reduce(rgb, DETECT_SIDE)[..., ::-1]  # PySceneDetect reads OpenCV's BGR order
        found = self._detector.process_frame(self._timecode(index, fps=self.fps), np.ascontiguousarray(small))
        starts = [int(t.frame_num) for t in found if 0 < int(t.frame_num)]
        self.cuts.extend(starts)
        return starts


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
