"""Generated video files for the reframe tests: clips with hard cuts and ground truth, a
variable-frame-rate clip with audio, and a hostile corpus (each built in a few hundred ms)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from promptcrop.reframe.synthetic import Shot, View, virtual_camera, write_audio, write_clip

SIZE = (160, 90)
FPS = 25.0
SHOT_FRAMES = 30
#: Frames per shot of the hostile corpus's good clip (short: the corpus is about inputs, not paths).
HOSTILE_SHOT_FRAMES = 8


def photo(name: str) -> Image.Image:
    """A scikit-image sample photo (bundled with the package)."""
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)())


def cut_shots(size: tuple[int, int] = SIZE, frames: int = SHOT_FRAMES) -> list[Shot]:
    """Three shots of three photos, each with a pan (so the subject moves in the frame)."""
    astronaut = virtual_camera(photo("astronaut"), (20, 14, 368, 512), [(168, 55, 285, 175)],
                               start=View(200, 256, 280), end=View(320, 256, 280), n_frames=frames, size=size)
    coffee = virtual_camera(photo("coffee"), (75, 15, 480, 385), [], start=View(300, 200, 300),
                            end=View(260, 200, 260), n_frames=frames, size=size)
    chelsea = virtual_camera(photo("chelsea"), (45, 0, 390, 290), [], start=View(150, 150, 220),
                             end=View(300, 150, 220), n_frames=frames, size=size)
    return [astronaut, coffee, chelsea]


def cut_clip(path: Path, *, audio: bool = True, frames: int = SHOT_FRAMES) -> tuple[Path, list[Shot]]:
    """A clip of :func:`cut_shots` (hard cuts at ``frames`` and twice that) with an AAC tone."""
    shots = cut_shots(frames=frames)
    pictures = np.concatenate([s.frames for s in shots])
    write_clip(path, pictures, FPS, audio_s=len(pictures) / FPS if audio else None)
    return path, shots


def vfr_clip(path: Path) -> tuple[Path, np.ndarray]:
    """A variable-frame-rate clip (steps of 30, 50 and 40 ms) with audio; returns its frame times."""
    shot = cut_shots(frames=40)[0]
    times = np.concatenate([[0.0], np.cumsum(np.resize([0.03, 0.05, 0.04], len(shot.frames) - 1))])
    write_clip(path, shot.frames, FPS, times=times, audio_s=float(times[-1]) + 0.1)
    return path, times


def hostile_corpus(folder: Path) -> dict[str, Path]:
    """Broken and odd inputs, by what each is: every one must give a one-line error or a correct output."""
    folder.mkdir(parents=True, exist_ok=True)
    good, _ = cut_clip(folder / "good.mp4", frames=HOSTILE_SHOT_FRAMES)
    data = good.read_bytes()
    corpus = {"good": good}
    corpus["truncated"] = _bytes(folder / "truncated.mp4", data[: len(data) // 3])
    corpus["header_only"] = _bytes(folder / "header_only.mp4", data[:200])
    corpus["empty_file"] = _bytes(folder / "empty.mp4", b"")
    png = folder / "picture.mp4"
    photo("astronaut").save(png, format="PNG")  # an image named like a video
    corpus["wrong_extension_image"] = png
    corpus["video_named_txt"] = _bytes(folder / "clip.txt", data)  # a real video, odd name
    corpus["text"] = _bytes(folder / "notes.mp4", b"this is not a video\n" * 50)
    corpus["audio_only"] = write_audio(folder / "audio_only.mp4", 0.5)
    corpus["zero_frames"] = write_clip(folder / "zero_frames.mp4", [], FPS)
    corpus["one_frame"] = write_clip(folder / "one_frame.mp4", cut_shots(frames=1)[0].frames, FPS)
    wide = np.tile(np.linspace(0, 255, 10000, dtype=np.uint8)[None, :, None], (10, 1, 3))
    corpus["wide_10000x10"] = write_clip(folder / "wide.mp4", [wide] * 3, FPS)
    corpus["rotated"] = write_clip(folder / "rotated.mp4", cut_shots(frames=10)[0].frames, FPS, rotation=90,
                                   audio_s=0.5)
    corpus["anamorphic"] = write_clip(folder / "anamorphic.mp4", cut_shots(frames=10)[0].frames, FPS,
                                      pixel_aspect=Fraction(16, 15))  # PAL 4:3 pixels
    return corpus


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

