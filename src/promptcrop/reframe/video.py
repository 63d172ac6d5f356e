"""Video input and output through PyAV (its wheels ship FFmpeg): probing, a reduced decode for the
analysis, and the render of a crop path with the audio copied as it came.

Frames are handled **upright**: a stream's rotation (display matrix) is applied to every decoded
frame, so sizes and boxes are those of the picture as a player shows it. Boxes are xyxy pixels of
that upright frame (x2/y2 exclusive).

The render keeps every input frame's presentation timestamp (a variable-frame-rate input stays
variable) and copies the audio packets without decoding them, so the output's audio is the input's
byte for byte and stays in sync. Its pixels keep the input's shape: an anamorphic input (a sample
aspect ratio other than 1:1, as PAL and NTSC video, DV and HDV have) gives an output flagged with
the same sample aspect ratio, so players show it unsqueezed (its crop is the ratio asked in the
input's pixels, as the crop path is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from promptcrop.errors import RequestError

#: What ``pip`` installs for the video front end.
INSTALL_HINT = "video reframing needs PyAV and PySceneDetect: pip install 'promptcrop[video]'"
#: Default limits of an input: frame pixels (upright W x H) and seconds.
DEFAULT_MAX_PIXELS = 3840 * 2160
DEFAULT_MAX_SECONDS = 3 * 3600.0
#: Longest side over shortest side a frame may have (beyond it there is nothing to reframe, and
#: the face detector's windows over a strip a few pixels high number in the thousands).
MAX_FRAME_ASPECT = 16
#: Default output encoding.
DEFAULT_CODEC = "libx264"
DEFAULT_PIX_FMT = "yuv420p"
DEFAULT_CRF = 20
DEFAULT_PRESET = "veryfast"
#: The rotations a display matrix may give (degrees, counter-clockwise as FFmpeg reports them).
_QUARTER_TURNS = {0: 0, 90: 1, 180: 2, 270: 3}


class VideoError(RequestError):
    """An input video cannot be used (not a video, no video stream, truncated, no frames, too
    large or too long); the message is one line naming the file."""

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{source}: {reason}")


def require_av() -> Any:
    """The ``av`` module, or a :class:`RequestError` with the install hint."""
    try:
        import av
    except ImportError:
        raise RequestError(INSTALL_HINT) from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a probe found: ``size`` = upright ``(W, H)``; ``rotation`` = degrees the stored frames
    are turned (counter-clockwise) to be upright; ``fps`` = the stream's average rate;
    ``duration_s`` = container duration (0 when unknown); ``frame_count`` = the stream's count
    (0 when the container does not say: the analysis counts decoded frames); ``pixel_aspect`` = the
    width / height a pixel of the upright frame is shown at (the stream's sample aspect ratio, turned
    with the frame; 1 when it is square or not given)."""

    path: str
    size: tuple[int, int]
    rotation: int
    fps: float
    duration_s: float
    frame_count: int
    has_audio: bool
    codec: str
    pixel_aspect: Fraction = Fraction(1)


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: ``index`` in decode order, ``time`` in seconds (its timestamp),
    ``rgb`` = upright ``[h, w, 3]`` uint8 (a reduced copy when a side limit was asked)."""

    index: int
    time: float
    rgb: np.ndarray


@dataclass(frozen=True)
class EncodeOptions:
    """How the output video is encoded: ``codec`` (an FFmpeg encoder), ``pix_fmt``, ``crf``
    (quality, lower is better; encoders without CRF ignore it), ``preset`` (speed / size)."""

    codec: str = DEFAULT_CODEC
    pix_fmt: str = DEFAULT_PIX_FMT
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        if isinstance(self.crf, bool) or not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise RequestError(f"crf must be an integer in [0, 51], got {self.crf!r}")
        av = require_av()
        if self.codec not in av.codecs_available:
            raise RequestError(f"unknown video encoder {self.codec!r} (FFmpeg has no such codec here)")


def probe(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS,
          max_seconds: float = DEFAULT_MAX_SECONDS) -> VideoInfo:
    """Open ``path`` and describe its first video stream; :class:`VideoError` when it is not a
    usable video or exceeds ``max_pixels`` (upright W x H) or ``max_seconds``."""
    av = require_av()
    source = Path(path)
    if not source.is_file():
        raise VideoError(source, "no such file" if not source.exists() else "not a file")
    try:
        with av.open(str(source)) as container:
            video = _video_stream(container, source)
            ctx = video.codec_context
            width, height = int(ctx.width or 0), int(ctx.height or 0)
            if width <= 0 or height <= 0:
                raise VideoError(source, "the video stream has no frame size")
            rotation = _stream_rotation(container, video)
            if rotation % 180:
                width, height = height, width
            duration = float(container.duration) / av.time_base if container.duration else 0.0
            rate = video.average_rate or video.guessed_rate or video.base_rate
            info = VideoInfo(
                path=str(source), size=(width, height), rotation=rotation,
                fps=float(rate) if rate else 0.0, duration_s=duration, frame_count=int(video.frames or 0),
                has_audio=any(s.type == "audio" for s in container.streams), codec=ctx.name,
                pixel_aspect=upright_pixel_aspect(video.sample_aspect_ratio or ctx.sample_aspect_ratio, rotation),
            )
    except av.FFmpegError as exc:
        raise VideoError(source, f"not a readable video ({_ffmpeg_reason(exc)})") from None
    check_limits(info, max_pixels=max_pixels, max_seconds=max_seconds)
    return info


def check_limits(info: VideoInfo, *, max_pixels: int, max_seconds: float) -> None:
    """:class:`VideoError` when the frame is above ``max_pixels``, its sides more than
    :data:`MAX_FRAME_ASPECT` apart, or the duration above ``max_seconds``."""
    w, h = info.size
    if max(w, h) > MAX_FRAME_ASPECT * min(w, h):
        raise VideoError(info.path, f"frames of {w}x{h} are too thin to reframe (sides more than "
                                    f"{MAX_FRAME_ASPECT}:1 apart)")
    if w * h > max_pixels:
        raise VideoError(info.path, f"frames of {w}x{h} = {w * h:,} pixels, above the limit of {max_pixels:,}")
    if info.duration_s > max_seconds:
        raise VideoError(info.path, f"{info.duration_s:.1f} s long, above the limit of {max_seconds:g} s")


def _video_stream(container: Any, source: Path) -> Any:
    streams = container.streams.video
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        what = f"only {', '.join(kinds)} streams" if kinds else "no streams"
        raise VideoError(source, f"no video stream ({what})")
    return streams[0]


def _stream_rotation(container: Any, video: Any) -> int:
    """The quarter-turn rotation of the stream's display matrix (its first frame says it; 0 if none)."""
    try:
        for frame in container.decode(video):
            return _quarter(getattr(frame, "rotation", 0) or 0)
    except Exception:  # noqa: BLE001 - a broken first frame is reported by the decode itself
        return 0
    return 0


def upright_pixel_aspect(sample_aspect: Fraction | None, rotation: int) -> Fraction:
    """The shape (width / height) of a pixel of the upright frame: the stored frame's sample aspect
    ratio (None or 0: square), inverted when ``rotation`` turns the frame by a quarter."""
    aspect = Fraction(sample_aspect) if sample_aspect else Fraction(1)
    return 1 / aspect if rotation % 180 else aspect


def _quarter(degrees: float) -> int:
    return int(round(degrees / 90.0)) % 4 * 90


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0].split(": '")[0].strip() if text else type(exc).__name__


def upright(array: np.ndarray, rotation: int) -> np.ndarray:
    """A stored ``[H, W, C]`` frame turned upright (``rotation`` degrees counter-clockwise)."""
    turns = _QUARTER_TURNS[rotation]
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def reduced_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """``(w, h)`` scaled so the long side is at most ``max_side`` (even sides, at least 2)."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


class FrameClock:
    """Presentation timestamps of decoded frames, one frame behind the decoder: FFmpeg's best-effort
    guess (its ``guess_correct_pts``) — a frame's pts, unless the pts have run backwards more often
    than the packets' dts (an AVI with packed B-frames labels pairs of frames the wrong way round),
    then its dts — and always past the last one given (an encoder takes only rising timestamps).
    Knowing the next frame before timing one keeps the frame before a first backward step on time.

    :meth:`feed` takes each decoded frame in order and gives back the one before it with its
    timestamp (in its ``time_base``; None when it has neither pts nor dts); :meth:`drain` gives the
    last one."""

    def __init__(self) -> None:
        self._pending: Any = None
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._faulty_pts = self._faulty_dts = 0
        self._last: int | None = None

    def feed(self, frame: Any) -> tuple[Any, int | None] | None:
        if frame.dts is not None:
            self._faulty_dts += self._last_dts is not None and frame.dts <= self._last_dts
            self._last_dts = frame.dts
        if frame.pts is not None:
            self._faulty_pts += self._last_pts is not None and frame.pts <= self._last_pts
            self._last_pts = frame.pts
        timed = None if self._pending is None else self._timed(self._pending)
        self._pending = frame
        return timed

    def drain(self) -> tuple[Any, int | None] | None:
        timed = None if self._pending is None else self._timed(self._pending)
        self._pending = None
        return timed

    def _timed(self, frame: Any) -> tuple[Any, int | None]:
        use_pts = frame.pts is not None and (self._faulty_pts <= self._faulty_dts or frame.dts is None)
        stamp = frame.pts if use_pts else frame.dts
        if stamp is not None and self._last is not None and stamp <= self._last:
            stamp = self._last + 1
        if stamp is not None:
            self._last = stamp
        return frame, stamp


def _timed_frames(frames: Iterable[Any]) -> Iterator[tuple[Any, int | None]]:
    """``frames`` with their :class:`FrameClock` timestamps, in order."""
    clock = FrameClock()
    for frame in frames:
        timed = clock.feed(frame)
        if timed is not None:
            yield timed
    last = clock.drain()
    if last is not None:
        yield last


def stored_size(info: VideoInfo, max_side: int | None = None) -> tuple[int, int]:
    """``(w, h)`` of ``info``'s stored (not yet turned upright) frames at the probed size, reduced to
    ``max_side`` when given (:func:`reduced_size`)."""
    w, h = reduced_size(info.size, max_side)
    return (h, w) if info.rotation % 180 else (w, h)


def iter_frames(info: VideoInfo, *, max_side: int | None = None,
                max_seconds: float = DEFAULT_MAX_SECONDS) -> Iterator[DecodedFrame]:
    """Decode every frame of ``info``'s video stream, upright, reduced to ``max_side`` when given.

    Raises :class:`VideoError` when the stream is corrupt before its end, has no frame at all, or
    its timestamps run past ``max_seconds`` (for containers that do not state their duration).
    """
    av = require_av()
    stored = stored_size(info, max_side)  # the scaler works on stored frames
    count = 0
    try:
        with av.open(info.path) as container:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            start = None
            for frame, stamp in _timed_frames(container.decode(video)):
                t = float(stamp * frame.time_base) if stamp is not None else count / max(info.fps, 1.0)
                start = t if start is None else start
                if t - start > max_seconds:
                    raise VideoError(info.path, f"longer than the limit of {max_seconds:g} s")
                rgb = frame.to_ndarray(format="rgb24", width=stored[0], height=stored[1])
                yield DecodedFrame(count, t, upright(rgb, info.rotation))
                count += 1
    except av.FFmpegError as exc:
        raise VideoError(info.path, f"corrupt video after {count} frames ({_ffmpeg_reason(exc)})") from None
    if count == 0:
        raise VideoError(info.path, "the video stream has no decodable frame")


# ------------------------------------------------------------------------------------ render


FrameMaker = Callable[[int, np.ndarray], np.ndarray]
"""Makes output frame ``index`` (``[h, w, 3]`` uint8, the target's size) from the upright input frame."""


@dataclass(frozen=True)
class RenderTarget:
    """One output file: ``path`` (written as MP4 whatever its name), ``size`` ``(w, h)`` (even),
    and the function that makes its frames."""

    path: Path
    size: tuple[int, int]
    make_frame: FrameMaker

    def __post_init__(self) -> None:
        w, h = self.size
        if w % 2 or h % 2 or w < 2 or h < 2:
            raise RequestError(f"output size {w}x{h} must be even and at least 2x2")


def render(info: VideoInfo, targets: Sequence[RenderTarget], options: EncodeOptions | None = None,
           on_frame: Callable[[], None] | None = None) -> int:
    """Decode ``info`` once and encode every target's frames into its file.

    Every output frame keeps its input frame's timestamp; every audio packet of the input's first
    audio stream is copied unchanged into every output. Returns the number of frames written per
    output; :class:`VideoError` if the input breaks off. ``options``: default :class:`EncodeOptions`.
    """
    av = require_av()
    options = options or EncodeOptions()
    written = 0
    try:
        with av.open(info.path) as src, contextlib.ExitStack() as stack:
            video = src.streams.video[0]
            video.thread_type = "AUTO"
            audio = src.streams.audio[0] if src.streams.audio else None
            outs = []
            for target in targets:
                dst = stack.enter_context(av.open(str(target.path), "w", format="mp4"))
                out_video = _add_video_stream(dst, video, target.size, options, info)
                out_audio = dst.add_stream_from_template(audio) if audio is not None else None
                outs.append((target, dst, out_video, out_audio))
            # at the probed size: a stream whose frame size changes midway is scaled back to it (the
            # crop path was planned on it), as the analysis's decode does
            width, height = stored_size(info)
            frames = _video_frames(src.demux([video] + ([audio] if audio is not None else [])), audio, outs)
            for frame, stamp in _timed_frames(frames):
                rgb = upright(frame.to_ndarray(format="rgb24", width=width, height=height), info.rotation)
                for target, dst, out_video, _ in outs:
                    pixels = np.ascontiguousarray(target.make_frame(written, rgb))
                    out = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    out.pts, out.time_base = stamp, frame.time_base
                    dst.mux(out_video.encode(out))
                written += 1
                if on_frame is not None:
                    on_frame()
            for _, dst, out_video, _ in outs:
                dst.mux(out_video.encode(None))
    except av.FFmpegError as exc:
        raise VideoError(info.path, f"corrupt video after {written} frames ({_ffmpeg_reason(exc)})") from None
    return written


def _video_frames(packets: Iterable[Any], audio: Any, outs: Sequence[tuple[Any, Any, Any, Any]]) -> Iterator[Any]:
    """The decoded video frames of the demuxed ``packets``, in order; the ``audio`` stream's packets
    are copied into every output as they come (:func:`_copy_audio`)."""
    for packet in packets:
        if packet.stream is audio:
            _copy_audio(packet, outs)
        else:
            yield from packet.decode()


def _copy_audio(packet: Any, outs: Sequence[tuple[Any, Any, Any, Any]]) -> None:
    """Mux one input audio packet, unchanged, into every output (flush packets carry no data)."""
    if packet.dts is None or not packet.size:
        return
    data = bytes(packet)
    for i, (_, dst, _, out_audio) in enumerate(outs):
        copy = packet if i == len(outs) - 1 else _packet_copy(packet, data)
        copy.stream = out_audio
        dst.mux(copy)


def _packet_copy(packet: Any, data: bytes) -> Any:
    import av

    copy = av.Packet(data)
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy


def _add_video_stream(dst: Any, video: Any, out_size: tuple[int, int], options: EncodeOptions,
                      info: VideoInfo) -> Any:
    rate = video.average_rate or video.guessed_rate or Fraction(max(round(info.fps), 1))
    stream = dst.add_stream(options.codec, rate=rate)
    stream.width, stream.height = out_size
    stream.pix_fmt = options.pix_fmt
    if info.pixel_aspect != 1:  # the output's pixels are the (upright) input's
        stream.codec_context.sample_aspect_ratio = info.pixel_aspect
    stream.time_base = video.time_base
    stream.codec_context.time_base = video.time_base
    if options.codec in ("libx264", "libx265"):
        stream.options = {"crf": str(options.crf), "preset": options.preset}
    return stream


def crop_frame(frame: np.ndarray, box: Sequence[int], out_size: tuple[int, int]) -> np.ndarray:
    """The ``box`` (xyxy px, inside the frame) of an upright frame, cut to the even ``out_size``
    (a crop one pixel larger than ``out_size`` loses its last row / column)."""
    x1, y1 = int(box[0]), int(box[1])
    w, h = out_size
    return frame[y1 : y1 + h, x1 : x1 + w]


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """``(w, h)`` rounded down to even sides (at least 2)."""
    return max(2, size[0] // 2 * 2), max(2, size[1] // 2 * 2)

