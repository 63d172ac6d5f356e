"""Generated video with exact ground truth, for the tests and ``benchmarks/reframe.py``.

:func:`virtual_camera` films a still photo with an annotated subject by moving (panning) and
resizing (zooming) a 16:9 view over it; every frame's subject and face boxes follow from the view
exactly. :func:`write_clip` encodes frames (constant or variable frame rate, optionally rotated)
with an AAC tone as the audio track, through PyAV.

Boxes are xyxy float pixels of the generated frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from promptcrop.reframe.video import require_av

#: Timestamp unit of written clips (1 ms: variable frame rates are exact).
TIME_BASE = Fraction(1, 1000)
AUDIO_RATE = 48_000
#: Frequency (Hz) of the generated audio tone.
TONE_HZ = 440.0


@dataclass(frozen=True)
class View:
    """A view of a photo: centre ``(cx, cy)`` and ``height`` in photo pixels (width = 16/9 × height)."""

    cx: float
    cy: float
    height: float


@dataclass
class Shot:
    """Frames ``[n, H, W, 3]`` uint8 and per-frame ground truth: ``subject`` ``[n, 4]`` and
    ``faces`` (``[n, F, 4]``) in frame pixels."""

    frames: np.ndarray
    subject: np.ndarray
    faces: np.ndarray


def virtual_camera(photo: Image.Image, subject: Sequence[float], faces: Sequence[Sequence[float]], *,
                   start: View, end: View, n_frames: int, size: tuple[int, int]) -> Shot:
    """Film ``photo`` with a view moving linearly (centre and height) from ``start`` to ``end``
    over ``n_frames`` frames of ``size`` ``(W, H)``; the view is kept inside the photo."""
    W, H = size
    rgb = photo.convert("RGB")
    pw, ph = rgb.size
    face_arr = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    frames, subjects, face_boxes = [], [], []
    for t in np.linspace(0.0, 1.0, n_frames):
        height = min((1 - t) * start.height + t * end.height, ph, pw * H / W)
        width = height * W / H
        cx = np.clip((1 - t) * start.cx + t * end.cx, width / 2, pw - width / 2)
        cy = np.clip((1 - t) * start.cy + t * end.cy, height / 2, ph - height / 2)
        x0, y0 = cx - width / 2, cy - height / 2
        frames.append(np.asarray(rgb.resize((W, H), Image.Resampling.BILINEAR, box=(x0, y0, x0 + width, y0 + height))))
        scale = np.array([W / width, H / height] * 2)
        shift = np.array([x0, y0, x0, y0])
        subjects.append(_clip((np.asarray(subject, dtype=np.float64) - shift) * scale, W, H))
        face_boxes.append((face_arr - shift) * scale)
    return Shot(frames=np.stack(frames), subject=np.stack(subjects), faces=np.stack(face_boxes))


def _clip(box: np.ndarray, W: int, H: int) -> np.ndarray:
    return np.clip(box, 0, [W, H, W, H])


def write_clip(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, *, times: Sequence[float] | None = None,
               audio_s: float | None = None, rotation: int = 0, codec: str = "libx264",
               pixel_aspect: Fraction | None = None) -> Path:
    """Encode ``frames`` (``[H, W, 3]`` uint8, even sides for yuv420p) as an MP4 at ``fps``, or at
    the given per-frame ``times`` (s, increasing: variable frame rate); ``audio_s``: seconds of
    AAC tone to add; ``rotation``: display rotation (degrees) written in the stream's metadata;
    ``pixel_aspect``: the sample aspect ratio written in the stream (an anamorphic video)."""
    av = require_av()
    path = Path(path)
    stream_of = iter(frames)
    first = next(stream_of, None)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream(codec, rate=Fraction(round(fps * 1000), 1000))
        video.height, video.width = (16, 16) if first is None else first.shape[:2]
        video.pix_fmt = "yuv420p"
        video.time_base = TIME_BASE
        video.codec_context.time_base = TIME_BASE
        if rotation:
            video.set_display_rotation(rotation)
        if pixel_aspect is not None:
            video.codec_context.sample_aspect_ratio = Fraction(pixel_aspect)
        audio = _tone_stream(out) if audio_s else None
        out.start_encoding()  # the header, even for a clip of no frames
        for i, frame in enumerate(() if first is None else _chain(first, stream_of)):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            seconds = times[i] if times is not None else i / fps
            vf.pts, vf.time_base = round(seconds / TIME_BASE), TIME_BASE
            out.mux(video.encode(vf))
        out.mux(video.encode(None))
        if audio is not None:
            _write_tone(out, audio, float(audio_s))
    return path


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


def _tone_stream(out: Any) -> Any:
    stream = out.add_stream("aac", rate=AUDIO_RATE)
    stream.layout = "mono"
    return stream


def _write_tone(out: Any, stream: Any, seconds: float) -> None:
    av = require_av()
    samples = np.sin(2 * np.pi * TONE_HZ * np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE).astype(np.float32)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, len(samples), chunk):
        frame = av.AudioFrame.from_ndarray(samples[start : start + chunk][None], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def write_audio(path: str | Path, seconds: float) -> Path:
    """An MP4 holding only an AAC tone of ``seconds`` (no video stream)."""
    av = require_av()
    with av.open(str(path), "w", format="mp4") as out:
        _write_tone(out, _tone_stream(out), seconds)
    return Path(path)
