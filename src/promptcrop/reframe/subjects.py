"""The subject of every frame, from keyframes the one :class:`~promptcrop.predictor.Predictor` crops.

One decoding pass (:func:`analyse_video`) reduces every frame to at most ``analysis_side`` pixels,
feeds the cut detector, and sends keyframes — the first frame of every shot, then one every
``1 / keyframe_rate`` seconds, and the last frame of every shot — through
:meth:`Predictor.predict_batch` with the run's request (offline mode, or a text / image query with
its exclusions). A blank frame (black, white, one flat colour) is not predicted on, and the frame
after it is a keyframe too (:data:`~promptcrop.reframe.shots.BLANK_SPREAD`); a dip to black starts a
new shot (:class:`~promptcrop.reframe.shots.CutDetector`). Of each keyframe's prediction it keeps the
region the crops were built to keep (the *subject*) and the top crop per ratio (the composer's
*framing*: headroom, faces whole, room around the subject). Within a shot both are smoothed by a robust straight-line fit over about 1.4
s of keyframes (:func:`running_trend`) and interpolated linearly between keyframes
(:func:`frame_tracks`); nothing is smoothed or interpolated across a cut, and the first keyframe
of every shot is its first frame.

Boxes are xyxy float pixels of the full-size upright frame.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from promptcrop.reframe.motion import MOTION_GAP, motion_map
from promptcrop.reframe.path import robust_line
from promptcrop.reframe.shots import CutDetector, ShotConfig, is_blank
from promptcrop.reframe.video import DecodedFrame, VideoInfo, iter_frames
from promptcrop.validation import require_number, require_positive_int

if TYPE_CHECKING:
    from promptcrop.predictor import Predictor
    from promptcrop.request import CropRequest

#: Keyframes per second analysed by default (the issue's ceiling).
DEFAULT_KEYFRAME_RATE = 5.0
#: Long side (px) of the reduced frame copy the analysis sees.
DEFAULT_ANALYSIS_SIDE = 640
#: Keyframes over which the subject and framing boxes are fitted by a robust line (within a shot):
#: about 1.4 s at the default rate; two keyframes in it that see something else are outvoted (real
#: video's keyframes disagree more often than one in five: a region that takes in the background
#: on every other keyframe).
TREND_KEYFRAMES = 7
#: Recent analysis frames kept, so a cut found late still gets its first frame analysed.
LOOKBACK_FRAMES = 8


@dataclass(frozen=True)
class AnalysisConfig:
    """``keyframe_rate``: keyframes per second (at most one per frame); ``analysis_side``: long
    side of the reduced copy the predictor sees; ``shots``: the cut detector's settings."""

    keyframe_rate: float = DEFAULT_KEYFRAME_RATE
    analysis_side: int = DEFAULT_ANALYSIS_SIDE
    shots: ShotConfig = field(default_factory=ShotConfig)

    def __post_init__(self) -> None:
        require_number("keyframe_rate", self.keyframe_rate, 0.0, None, low_open=True)
        require_positive_int("analysis_side", self.analysis_side)


@dataclass(frozen=True)
class Keyframe:
    """What the predictor found on one keyframe: ``subject`` ``[4]`` (the region it keeps),
    ``framing`` ratio label → ``[4]`` top crop (may leave the frame when padded), ``padded``
    ratio label → whether that crop is letterboxed, ``matched`` (the grounded phrases),
    ``fallback`` (the predictor's note, if any), ``mode``, ``faces`` ``[F, 4]`` (the faces and
    estimated heads the framing keeps whole, :attr:`~promptcrop.results.Prediction.faces`);
    ``blank``: the frame showed nothing (:data:`~promptcrop.reframe.shots.BLANK_SPREAD`), and was not predicted on — its
    subject is the whole frame, it has no framing and no faces."""

    index: int
    subject: np.ndarray
    framing: dict[str, np.ndarray]
    padded: dict[str, bool]
    pad_color: dict[str, tuple[int, int, int] | None]
    matched: tuple[str, ...]
    fallback: str | None
    mode: str
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    blank: bool = False


@dataclass
class Analysis:
    """One analysis pass: ``frame_count``, frame ``times`` (s), shot starts ``cuts``, the
    ``keyframes`` in index order, and seconds spent (``timings``: decode, shots, predict)."""

    frame_count: int
    times: np.ndarray
    cuts: list[int]
    keyframes: list[Keyframe]
    timings: dict[str, float]


class KeyframeAnalyser:
    """Sends one reduced frame through the predictor and maps the answer to full-frame pixels."""

    def __init__(self, predictor: Predictor, request: CropRequest, *, query: str | None = None,
                 query_image: Any = None) -> None:
        self.predictor = predictor
        self.request = request
        self.query = query
        self.query_image = query_image

    def __call__(self, frame: DecodedFrame, full_size: tuple[int, int], earlier: DecodedFrame | None = None) -> Keyframe:
        """The keyframe record of ``frame`` (a reduced copy of a ``full_size`` ``(W, H)`` frame);
        ``earlier``: the frame :data:`~promptcrop.reframe.motion.MOTION_GAP` before it, if decoded,
        whose difference from it is a cue of the offline subject (:mod:`promptcrop.reframe.motion`)."""
        motion = motion_map(frame.rgb, earlier.rgb) if earlier is not None else None
        pred = self.predictor.predict_batch([frame.rgb], [self.query], query_image=self.query_image,
                                            request=self.request, motion=[motion])[0]
        h, w = frame.rgb.shape[:2]
        scale = np.array([full_size[0] / w, full_size[1] / h] * 2)
        region = np.asarray(pred.region if pred.region is not None else (0, 0, w, h), dtype=np.float64)
        framing: dict[str, np.ndarray] = {}
        padded: dict[str, bool] = {}
        colours: dict[str, tuple[int, int, int] | None] = {}
        for crop in pred.crops:
            if crop.rank == 1:
                framing[crop.ratio] = np.asarray(crop.box, dtype=np.float64) * scale
                padded[crop.ratio] = bool(crop.padded)
                colours[crop.ratio] = crop.pad_color
        return Keyframe(
            index=frame.index, subject=region * scale, framing=framing, padded=padded, pad_color=colours,
            matched=tuple(g.phrase for g in pred.grounding), fallback=pred.fallback, mode=pred.mode,
            faces=np.asarray(pred.faces, dtype=np.float64).reshape(-1, 4) * scale,
        )


def analyse_video(info: VideoInfo, analyser: KeyframeAnalyser, config: AnalysisConfig = AnalysisConfig(), *,
                  max_seconds: float, on_frame: Callable[[], None] | None = None) -> Analysis:
    """Decode ``info`` once, find its cuts and analyse its keyframes (see the module docstring)."""
    detector = CutDetector(info.fps, config.shots)
    step = max(1, round((info.fps if info.fps > 0 else 25.0) / config.keyframe_rate))
    recent: deque[DecodedFrame] = deque(maxlen=LOOKBACK_FRAMES)
    keyframes: dict[int, Keyframe] = {}
    times: list[float] = []
    spent = {"decode": 0.0, "shots": 0.0, "predict": 0.0}
    next_key, probing = 0, False

    def analyse(index: int, keep_blank: bool = True) -> bool:
        """Analyse frame ``index`` (once); True when it is blank (kept as a keyframe if ``keep_blank``)."""
        frame = next((f for f in recent if f.index == index), None)
        if frame is None:
            return False
        if index not in keyframes:
            t = time.perf_counter()
            blank = is_blank(frame.rgb)
            if not blank:
                earlier = next((f for f in recent if f.index == index - MOTION_GAP), None)
                keyframes[index] = analyser(frame, info.size, earlier)
            elif keep_blank:
                keyframes[index] = blank_keyframe(index, info.size)
            spent["predict"] += time.perf_counter() - t
            return blank
        return keyframes[index].blank

    t0 = time.perf_counter()
    for frame in iter_frames(info, max_side=config.analysis_side, max_seconds=max_seconds):
        t1 = time.perf_counter()
        spent["decode"] += t1 - t0
        recent.append(frame)
        times.append(frame.time)
        starts = detector.feed(frame.index, frame.rgb)
        spent["shots"] += time.perf_counter() - t1
        for start in starts:
            analyse(start - 1)  # the last frame of the shot that ends here
            next_key, probing = start, False
        while next_key <= frame.index:
            # after a blank keyframe, each next frame until one shows something (not kept while blank)
            probing = analyse(next_key, keep_blank=not probing)
            next_key += 1 if probing else step
        if on_frame is not None:
            on_frame()
        t0 = time.perf_counter()
    for start in detector.finish():  # a cut among the last frames
        analyse(start - 1)
        analyse(start)
    analyse(recent[-1].index)  # the last frame of the video
    return Analysis(frame_count=len(times), times=np.asarray(times), cuts=list(detector.cuts),
                    keyframes=[keyframes[i] for i in sorted(keyframes)], timings=spent)


@dataclass(frozen=True)
class Tracks:
    """Per-frame boxes of one ratio: ``subject`` ``[N, 4]`` and ``framing`` ``[N, 4]`` (xyxy px), and
    ``faces``: per frame the ``[F, 4]`` faces of the nearest keyframe of its shot."""

    subject: np.ndarray
    framing: np.ndarray
    faces: list[np.ndarray]


def frame_tracks(keyframes: Sequence[Keyframe], shots: Sequence[tuple[int, int]], label: str,
                 frame_size: tuple[int, int]) -> Tracks:
    """Subject and framing of every frame for ratio ``label``: linear between the keyframes of a
    shot (after :func:`running_trend` over its keyframes; blank ones count only in a shot of
    nothing else), held before its first and after its last; a shot without keyframe borrows the
    nearest. Faces are those of the nearest keyframe (they are kept whole, not followed)."""
    n = shots[-1][1]
    subject = np.zeros((n, 4))
    framing = np.zeros((n, 4))
    faces: list[np.ndarray] = []
    for start, end in shots:
        inside = [k for k in keyframes if start <= k.index < end]
        if not inside:  # cannot happen with analyse_video's keyframes; kept for other callers
            inside = [min(keyframes, key=lambda k: (k.blank, abs(k.index - start)))]
        inside = [k for k in inside if not k.blank] or inside  # blank frames show no subject
        frames = np.arange(start, end)
        at = np.array([k.index for k in inside], dtype=np.float64)
        subject[start:end] = _interpolate(frames, at, running_trend(np.stack([k.subject for k in inside]), at))
        boxes = np.stack([k.framing.get(label, k.subject) for k in inside])
        framing[start:end] = _interpolate(frames, at, running_trend(boxes, at))
        nearest = np.searchsorted((at[1:] + at[:-1]) / 2, frames, side="left")  # a tie: the earlier
        faces.extend(inside[k].faces for k in nearest)
    W, H = frame_size
    subject = np.clip(subject, 0, [W, H, W, H])
    return Tracks(subject=subject, framing=framing, faces=faces)


def blank_keyframe(index: int, full_size: tuple[int, int]) -> Keyframe:
    """The keyframe of a blank frame: the whole ``(W, H)`` frame, no framing, no faces."""
    return Keyframe(index=index, subject=np.array([0.0, 0.0, *full_size]), framing={}, padded={}, pad_color={},
                    matched=(), fallback=None, mode="", blank=True)


def running_trend(boxes: np.ndarray, at: np.ndarray, window: int = TREND_KEYFRAMES) -> np.ndarray:
    """``[K, 4]`` boxes known at frame indices ``at`` ``[K]``, each coordinate replaced by a robust
    straight-line fit over ``window`` consecutive keyframes evaluated at its own index
    (:func:`~promptcrop.reframe.path.robust_line`, Theil-Sen). The window is centred, and at the
    ends of the shot it is the first / last ``window`` keyframes, so the first keyframe after a cut
    is outvoted as any other. A subject that moves steadily across the frame (a pan) is followed
    without lag, which a running median is not; a keyframe that sees another subject is outvoted.
    Fewer than three keyframes are returned as they are."""
    count = len(boxes)
    if count < 3:
        return np.asarray(boxes, dtype=np.float64)
    window = min(window, count)
    x_all = np.asarray(at, dtype=np.float64)
    out = np.empty((count, boxes.shape[1]))
    for i in range(count):
        start = min(max(0, i - window // 2), count - window)
        slope, intercept = robust_line(x_all[start : start + window], boxes[start : start + window])
        out[i] = intercept + slope * x_all[i]
    return out


def _interpolate(frames: np.ndarray, at: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``boxes`` ``[K, 4]`` known at frame indices ``at`` → ``[len(frames), 4]``, linear, held at the ends."""
    return np.stack([np.interp(frames, at, boxes[:, j]) for j in range(4)], axis=1)
