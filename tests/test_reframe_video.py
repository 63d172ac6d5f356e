"""Video I/O: probing, upright decoding, the render's timestamps and its bit-exact audio copy,
and shot detection on generated clips with hard cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optional import require

av = require("av")
require("scenedetect")

from promptcrop.reframe.shots import CutDetector, shots_from_cuts  # noqa: E402
from promptcrop.reframe.video import RenderTarget, VideoError, crop_frame, iter_frames, probe, reduced_size, render  # noqa: E402
from video_files import FPS, SHOT_FRAMES, cut_clip, vfr_clip  # noqa: E402


def _audio_packets(path: Path) -> list[tuple[bytes, int | None, int | None]]:
    with av.open(str(path)) as c:
        return [(bytes(p), p.pts, p.dts) for p in c.demux(c.streams.audio[0]) if p.size]


def _video_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def test_probe_reads_size_rate_audio(tmp_path: Path) -> None:
    path, _ = cut_clip(tmp_path / "c.mp4")
    info = probe(path)
    assert info.size == (160, 90) and info.rotation == 0
    assert info.fps == pytest.approx(FPS) and info.has_audio
    frames = list(iter_frames(info, max_side=80))
    assert len(frames) == 3 * SHOT_FRAMES
    assert frames[0].rgb.shape[1::-1] == reduced_size(info.size, 80) == (80, 44)


def test_cuts_found_at_the_hard_cuts(tmp_path: Path) -> None:
    path, _ = cut_clip(tmp_path / "c.mp4", audio=False)
    info = probe(path)
    detector = CutDetector(info.fps)
    for frame in iter_frames(info, max_side=160):
        detector.feed(frame.index, frame.rgb)
    assert detector.cuts == [SHOT_FRAMES, 2 * SHOT_FRAMES]
    assert shots_from_cuts(detector.cuts, 3 * SHOT_FRAMES) == [(0, 30), (30, 60), (60, 90)]


def test_a_pan_within_a_shot_is_no_cut(tmp_path: Path) -> None:
    from promptcrop.reframe.synthetic import write_clip
    from video_files import cut_shots

    shot = cut_shots(frames=60)[2]  # the cat, panned across
    path = write_clip(tmp_path / "pan.mp4", shot.frames, FPS)
    info = probe(path)
    detector = CutDetector(info.fps)
    for frame in iter_frames(info):
        detector.feed(frame.index, frame.rgb)
    assert detector.cuts == []


def test_render_keeps_vfr_timestamps_and_copies_audio_bit_exact(tmp_path: Path) -> None:
    path, times = vfr_clip(tmp_path / "vfr.mp4")
    info = probe(path)
    out = tmp_path / "out.mp4"
    box = (10, 0, 60, 90)
    n = render(info, [RenderTarget(out, (50, 90), lambda i, f: crop_frame(f, box, (50, 90)))])
    assert n == len(times)
    assert _video_times(out) == pytest.approx(_video_times(path), abs=1e-3)
    assert _video_times(out) == pytest.approx(list(times), abs=1e-3)
    assert _audio_packets(out) == _audio_packets(path)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].format.name == "yuv420p"
        v, a = c.streams.video[0], c.streams.audio[0]
        video_s = float(v.duration * v.time_base)
        audio_s = float(a.duration * a.time_base)
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        in_gap = float(v.duration * v.time_base) - float(a.duration * a.time_base)
    assert abs((video_s - audio_s) - in_gap) <= 1.0 / FPS


def test_two_targets_in_one_pass(tmp_path: Path) -> None:
    path, _ = cut_clip(tmp_path / "c.mp4")
    info = probe(path)
    targets = [RenderTarget(tmp_path / "a.mp4", (50, 90), lambda i, f: f[:, :50]),
               RenderTarget(tmp_path / "b.mp4", (90, 90), lambda i, f: f[:, :90])]
    render(info, targets)
    for t in targets:
        with av.open(str(t.path)) as c:
            s = c.streams.video[0]
            assert (s.width, s.height) == t.size
        assert _audio_packets(t.path) == _audio_packets(path)


def test_rotated_input_is_decoded_upright(tmp_path: Path) -> None:
    from promptcrop.reframe.synthetic import write_clip
    from video_files import cut_shots

    frames = cut_shots(frames=4)[0].frames
    path = write_clip(tmp_path / "r.mp4", frames, FPS, rotation=90)
    info = probe(path)
    assert info.rotation == 90 and info.size == (90, 160)
    first = next(iter_frames(info)).rgb
    assert first.shape == (160, 90, 3)
    # a quarter turn back gives the stored picture (up to coding noise)
    assert np.abs(np.rot90(first, -1).astype(int) - frames[0].astype(int)).mean() < 8


def test_a_pixel_shape_is_read_and_turned_with_the_frame(tmp_path: Path) -> None:
    """An anamorphic stream's sample aspect ratio is the upright pixel's shape, inverted by a quarter
    turn; a square or unflagged stream reads 1."""
    from fractions import Fraction

    from promptcrop.reframe.synthetic import write_clip
    from promptcrop.reframe.video import upright_pixel_aspect
    from video_files import cut_shots

    assert upright_pixel_aspect(None, 0) == 1 and upright_pixel_aspect(Fraction(0), 90) == 1
    assert upright_pixel_aspect(Fraction(16, 15), 180) == Fraction(16, 15)
    assert upright_pixel_aspect(Fraction(16, 15), 270) == Fraction(15, 16)
    frames = cut_shots(frames=2)[0].frames
    turned = probe(write_clip(tmp_path / "t.mp4", frames, FPS, rotation=90, pixel_aspect=Fraction(16, 15)))
    assert turned.size == (90, 160) and turned.pixel_aspect == Fraction(15, 16)
    assert probe(write_clip(tmp_path / "s.mp4", frames, FPS)).pixel_aspect == 1


def _stamps(pairs: list[tuple[int | None, int | None]]) -> list[int | None]:
    from types import SimpleNamespace

    from promptcrop.reframe.video import FrameClock

    clock, out = FrameClock(), []
    for pts, dts in pairs:
        timed = clock.feed(SimpleNamespace(pts=pts, dts=dts))
        if timed is not None:
            out.append(timed[1])
    out.append(clock.drain()[1])
    assert clock.drain() is None
    return out


def test_the_frame_clock_times_frames_as_ffmpeg_best_effort_does() -> None:
    """An AVI with packed B-frames labels pairs of decoded frames the wrong way round (its dts are
    right): those frames are timed by their dts, the first of them too. A well-timed stream keeps its
    pts, a variable rate included; a frame without pts takes its dts; a repeated stamp moves one past."""
    swapped = [(1, 1), (2, 2), (3, 3), (5, 4), (4, 5), (6, 6), (8, 7), (7, 8), (9, 9)]
    assert _stamps(swapped) == list(range(1, 10))
    variable = [(0, None), (40, None), (100, None), (110, None), (300, None)]
    assert _stamps(variable) == [0, 40, 100, 110, 300]
    assert _stamps([(None, 0), (None, 3), (5, 5)]) == [0, 3, 5]
    assert _stamps([(0, 0), (0, 0), (2, 2)]) == [0, 1, 2]
    assert _stamps([(None, None), (None, None)]) == [None, None]


def _segment(path: Path, size: tuple[int, int], frames: list[np.ndarray], start: int) -> bytes:
    import av

    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=round(FPS))
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = start + i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path.read_bytes()


def test_a_frame_size_change_midway_is_scaled_to_the_probed_size(tmp_path: Path) -> None:
    """An MPEG-TS whose frames grow from 320 x 180 to 640 x 360 halfway (two streams cut together):
    the analysis and the render both see every frame at the probed 320 x 180, so a crop planned
    there shows the same part of the picture after the change (not the large frame's corner)."""
    import av

    small = [np.full((180, 320, 3), 100, np.uint8)] * 10
    large = np.zeros((360, 640, 3), np.uint8)
    large[:, 320:] = 255  # black left half, white right half
    path = tmp_path / "switch.ts"
    path.write_bytes(_segment(tmp_path / "a.ts", (320, 180), small, 0)
                     + _segment(tmp_path / "b.ts", (640, 360), [large] * 10, 10))
    info = probe(path)
    assert info.size == (320, 180)
    assert {f.rgb.shape for f in iter_frames(info)} == {(180, 320, 3)}
    out = tmp_path / "out.mp4"
    render(info, [RenderTarget(out, (100, 180), lambda i, f: crop_frame(f, (110, 0, 210, 180), (100, 180)))])
    with av.open(str(out)) as c:
        means = [float(f.to_ndarray(format="rgb24").mean()) for f in c.decode(video=0)]
    assert len(means) == 20
    assert all(abs(m - 100) < 8 for m in means[:10])
    assert all(90 < m < 170 for m in means[12:]), means  # the middle of the frame: both halves


def test_render_size_must_be_even(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        RenderTarget(tmp_path / "x.mp4", (51, 90), lambda i, f: f)


def test_limits(tmp_path: Path) -> None:
    path, _ = cut_clip(tmp_path / "c.mp4")
    with pytest.raises(VideoError, match="pixels, above the limit"):
        probe(path, max_pixels=1000)
    with pytest.raises(VideoError, match="above the limit of 1 s"):
        probe(path, max_seconds=1.0)
    with pytest.raises(VideoError, match="no such file"):
        probe(tmp_path / "missing.mp4")


def test_reduced_size_keeps_even_sides() -> None:
    assert reduced_size((1920, 1080), 640) == (640, 360)
    assert reduced_size((10000, 10), 640) == (640, 2)
    assert reduced_size((100, 50), 640) == (100, 50)
