"""promptcrop's offline mode against smartcrop, libvips' smart crop and a centre crop on annotated
real photos, reported on a tuning half and a check half of the development set.

    python benchmarks/real_photos.py [--dev-photos DIR] [--half tuning|check|both]
    python benchmarks/real_photos.py PHOTOS_DIR --annotations FILE [--one-set NAME]

Annotation file: ``{"<file>": {"subject": [x1, y1, x2, y2] | null, "faces": [[x1, y1, x2, y2],
...], "size": [W, H]}}`` in upright pixels. The development set is

- the real photos that ship with scikit-image, scikit-learn, matplotlib and imgaug (all in the
  ``dev`` extra) and the variants :data:`DEV_VARIANTS` derives from them (caption banners, frame,
  letterbox bars, a boxed corner watermark and semi-transparent corner text, a person beside a
  landscape and one small in it, a large re-encode), written into a temporary folder; annotations
  ``benchmarks/real_photos_annotations.json``;
- the 31 shared development photos (``shared/data/dev-photos`` beside the checkout, read where
  they are, never copied; ``--dev-photos DIR`` or ``$PROMPTCROP_DEV_PHOTOS`` elsewhere); annotations ``benchmarks/dev_photos_annotations.json``.

It is split for good into a *tuning* half and a *check* half by :func:`half_of` (first byte of
SHA-256 of the source file name even → tuning; a generated variant goes with its source). Tune on
the tuning half only; a change counts when the check half says so.
``--write-dev-photos DIR`` only writes the package photos and their variants.

Methods, one crop per ratio (1:1, 4:5, 9:16, 16:9), the largest that fits:

- **promptcrop** — ``Predictor(model=None).predict(path, k=1, aspect=[all four ratios])``;
- **smartcrop** — as its CLI calls it: open, ``ImageOps.exif_transpose``, RGB, then
  ``SmartCrop().crop(image, width=100, height=int(100 / ratio))`` per ratio;
- **libvips** — ``pyvips.Image.new_from_file(path).autorot()`` then
  ``smartcrop(cw, ch, interesting="attention")`` per ratio with (cw, ch) the largest crop;
- **centre** — the largest crop of each ratio, centred.

The first lines say what ran: each method's package versions and whether promptcrop's face
detector ran (how many calls) or was missing.

Metrics (for a photo with subject box S and ratio r, (cw, ch) the largest crop of ratio r,
best = min(1, cw / width(S)) × min(1, ch / height(S)), cov = area(crop ∩ S) / area(S) of the top-1
crop): **kept** cov ≥ 0.9 × best; **missed** cov < 0.5 × best; a face box is **cut** when 20–80 %
of its area is inside the crop (over every face and ratio). **Time**: the whole call per photo
from its path (decoding included), median of ``--repeats`` runs (methods interleaved), summed.

Last line: ``RESULT kept_<half>_<method>=.. miss_<half>_<method>=.. facecut_<half>_<method>=..
time_ratio_smartcrop=.. time_ratio_libvips=.. time_ratio_smartcrop_small=.. time_ratio_libvips_small=..``
for each half run and each method (time ratios: promptcrop's total over the peer's, both halves
together; ``_small``: on the photos of at most :data:`SMALL_MEGAPIXELS` alone — the total is
weighted by the few large photos, on which smartcrop is slowest). ``--one-set NAME`` reports a folder of
other photos as one set instead (``kept_NAME_<method>=..``): ``benchmarks/fresh_photos.py``
fetches such a folder, photos nobody tuned on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_line  # noqa: E402

RATIOS = {"1:1": 1.0, "4:5": 4 / 5, "9:16": 9 / 16, "16:9": 16 / 9}
METHODS = ("promptcrop", "smartcrop", "libvips", "centre")
HALVES = ("tuning", "check")
DEFAULT_ANNOTATIONS = Path(__file__).with_name("real_photos_annotations.json")
#: Annotations of the 31 shared development photos (``../shared/data/dev-photos``).
DEV_PHOTOS_ANNOTATIONS = Path(__file__).with_name("dev_photos_annotations.json")
#: Environment variable naming the shared development photos' folder.
DEV_PHOTOS_ENV = "PROMPTCROP_DEV_PHOTOS"

#: Development photos shipped inside installed packages: file name → (package, folder in it).
PACKAGE_PHOTOS = {
    "astronaut.png": ("skimage", "data"),
    "camera.png": ("skimage", "data"),
    "chelsea.png": ("skimage", "data"),
    "coffee.png": ("skimage", "data"),
    "motorcycle_left.png": ("skimage", "data"),
    "rocket.jpg": ("skimage", "data"),
    "china.jpg": ("sklearn", "datasets/images"),
    "flower.jpg": ("sklearn", "datasets/images"),
    "clock_motion.png": ("skimage", "data"),
    "retina.jpg": ("skimage", "data"),
    "grace_hopper.jpg": ("matplotlib", "mpl-data/sample_data"),
    "quokka.jpg": ("imgaug", "."),
}
#: Variants of the package photos: file → (source, how it is made). Their annotations are the
#: source's, moved by the same offsets (and scaled, for the large re-encode).
DEV_VARIANTS = {
    "astronaut_caption.jpg": ("astronaut.png", "caption"),
    "flower_frame.jpg": ("flower.jpg", "frame"),
    "chelsea_letterbox.jpg": ("chelsea.png", "letterbox"),
    "coffee_watermark.jpg": ("coffee.png", "watermark"),
    "motorcycle_caption_top.jpg": ("motorcycle_left.png", "caption_top"),
    "china_large.jpg": ("china.jpg", "large"),
    "grace_hopper_corner_text.jpg": ("grace_hopper.jpg", "corner_text"),
    "grace_hopper_beside_china.jpg": ("grace_hopper.jpg", "beside_china"),
    "clock_motion_caption.jpg": ("clock_motion.png", "caption"),
    "astronaut_beside_china.jpg": ("astronaut.png", "beside_china"),
    "astronaut_small_in_china.jpg": ("astronaut.png", "small_in_china"),
}
CAPTION_SHARE = 0.18  # banner height / photo height
FRAME_SHARE = 0.05  # frame width / photo short side
LETTERBOX_SHARE = 0.16  # each bar / photo height
SMALL_SHARE = 0.26  # the pasted person's height / the landscape's height
LARGE_SCALE = 9  # china.jpg (640 x 427) → 5760 x 3843, about 22 megapixels


# ---------------------------------------------------------------------------- development set


def package_photo(name: str) -> Path:
    """Path of a development photo inside its installed package (ImportError if not installed)."""
    import importlib.util

    package, folder = PACKAGE_PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{name} ships with {package}, which is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / folder / name


def make_variant(source: Image.Image, how: str) -> tuple[Image.Image, Callable[[np.ndarray], np.ndarray]]:
    """A variant of a real photo and the map of its boxes ``[N, 4]`` into the variant's pixels."""
    src = source.convert("RGB")
    width, height = src.size
    if how in ("caption", "caption_top"):
        band = round(CAPTION_SHARE * height)
        out = Image.new("RGB", (width, height + band), (12, 12, 12))
        top = how == "caption"
        out.paste(src, (0, 0 if top else band))
        draw = ImageDraw.Draw(out)
        y = height + band // 3 if top else band // 3
        draw.text((width // 20, y), "Photo: archive — caption text of the picture above" if top
                  else "HEADLINE: a caption banner above the photo", fill=(235, 235, 235))
        return out, lambda b: b + np.array([0, 0 if top else band] * 2)
    if how == "frame":
        t = round(FRAME_SHARE * min(width, height))
        out = Image.new("RGB", (width + 2 * t, height + 2 * t), (245, 243, 238))
        out.paste(src, (t, t))
        return out, lambda b: b + t
    if how == "letterbox":
        bar = round(LETTERBOX_SHARE * height)
        out = Image.new("RGB", (width, height + 2 * bar), (0, 0, 0))
        out.paste(src, (0, bar))
        return out, lambda b: b + np.array([0, bar, 0, bar])
    if how == "watermark":
        out = src.copy()
        draw = ImageDraw.Draw(out, "RGBA")
        x, y = int(width * 0.68), int(height * 0.9)
        draw.rectangle((x - 6, y - 4, width - 8, height - 6), fill=(255, 255, 255, 90))
        draw.text((x, y), "(c) stock-photos.example", fill=(20, 20, 20, 220))
        return out, lambda b: b
    if how == "corner_text":
        # A semi-transparent stock-photo mark: large light letters with a dark outline, no box.
        out = src.convert("RGBA")
        layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        size = max(12, height // 14)
        font = ImageFont.load_default(size=size)
        text = "© stockphoto"
        x1, y1, x2, y2 = draw.textbbox((0, 0), text, font=font, stroke_width=1)
        at = (width - (x2 - x1) - width // 30, height - (y2 - y1) - height // 30)
        draw.text(at, text, font=font, fill=(255, 255, 255, 110), stroke_width=1, stroke_fill=(0, 0, 0, 80))
        return Image.alpha_composite(out, layer).convert("RGB"), lambda b: b
    if how == "beside_china":
        # A diptych: a landscape on the left, the photo on the right, one height.
        with Image.open(package_photo("china.jpg")) as other:
            left = other.convert("RGB")
            left = left.resize((round(left.width * height / left.height), height), Image.Resampling.BICUBIC)
        out = Image.new("RGB", (left.width + width, height))
        out.paste(left, (0, 0))
        out.paste(src, (left.width, 0))
        return out, lambda b: b + np.array([left.width, 0, left.width, 0])
    if how == "small_in_china":
        # A person small in a landscape (a face of about 4 % of the frame), by the lake.
        with Image.open(package_photo("china.jpg")) as other:
            out = other.convert("RGB")
        side = round(SMALL_SHARE * out.height)
        scale = side / max(width, height)
        small = src.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
        at = (round(0.72 * out.width), round(0.52 * out.height))
        out.paste(small, at)
        return out, lambda b: b * scale + np.array([*at, *at])
    if how == "large":
        out = src.resize((width * LARGE_SCALE, height * LARGE_SCALE), Image.Resampling.BICUBIC)
        return out, lambda b: b * LARGE_SCALE
    raise ValueError(f"unknown variant {how!r}")


def write_dev_photos(folder: Path) -> list[str]:
    """Write the development photos (package photos and their variants) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PACKAGE_PHOTOS:
        with Image.open(package_photo(name)) as img:
            img.convert("RGB").save(folder / name)
        written.append(name)
    for name, (source, how) in DEV_VARIANTS.items():
        with Image.open(package_photo(source)) as img:
            variant, _ = make_variant(img, how)
        variant.save(folder / name, quality=92)
        written.append(name)
    return written


def variant_annotation(base: dict, source_size: tuple[int, int], how: str) -> dict:
    """The annotation of a variant from its source's (used to write the annotation file)."""
    variant, move = make_variant(Image.new("RGB", source_size), how)
    subject = base["subject"]
    return {
        "subject": None if subject is None else np.round(move(np.array(subject, float))).tolist(),
        "faces": [np.round(move(np.array(f, float))).tolist() for f in base["faces"]],
        "size": list(variant.size),
    }


# ---------------------------------------------------------------------------- methods


#: Photos up to this size (megapixels; a 640 x 480 photo is 0.31) get time ratios of their own.
SMALL_MEGAPIXELS = 0.5


def largest_crop(width: int, height: int, ratio: float) -> tuple[float, float]:
    """(cw, ch) of the largest crop of ``ratio`` (width / height) inside a W × H image."""
    cw = min(width, height * ratio)
    return cw, cw / ratio


def run_promptcrop(path: Path, predictor) -> dict[str, tuple[float, float, float, float]]:
    prediction = predictor.predict(str(path), k=1, aspect=list(RATIOS))
    out = {}
    for crop, label in zip(_top_per_ratio(prediction.crops), RATIOS):
        out[label] = tuple(float(v) for v in crop.box)
    return out


def _top_per_ratio(crops) -> list:
    """The rank-1 crop of each requested ratio, in request order."""
    firsts = [c for c in crops if c.rank == 1]
    if len(firsts) != len(RATIOS):
        raise RuntimeError(f"expected one rank-1 crop per ratio, got {len(firsts)}")
    return firsts


def run_smartcrop(path: Path, cropper) -> dict[str, tuple[float, float, float, float]]:
    image = ImageOps.exif_transpose(Image.open(path))
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = {}
    for label, ratio in RATIOS.items():
        top = cropper.crop(image, width=100, height=int(100 / ratio))["top_crop"]
        out[label] = (top["x"], top["y"], top["x"] + top["width"], top["y"] + top["height"])
    return out


def run_centre(path: Path) -> dict[str, tuple[float, float, float, float]]:
    """The largest crop of each ratio, centred (the header is read for the upright size)."""
    with Image.open(path) as img:
        width, height = ImageOps.exif_transpose(img).size
    out = {}
    for label, ratio in RATIOS.items():
        cw, ch = largest_crop(width, height, ratio)
        x, y = (width - cw) / 2, (height - ch) / 2
        out[label] = (x, y, x + cw, y + ch)
    return out


def run_libvips(path: Path, pyvips) -> dict[str, tuple[float, float, float, float]]:
    image = pyvips.Image.new_from_file(str(path)).autorot()
    out = {}
    for label, ratio in RATIOS.items():
        cw, ch = (int(v) for v in largest_crop(image.width, image.height, ratio))
        crop = image.smartcrop(cw, ch, interesting="attention")
        x, y = -crop.get("xoffset"), -crop.get("yoffset")  # libvips stores minus the crop origin
        out[label] = (x, y, x + crop.width, y + crop.height)
    return out


# ---------------------------------------------------------------------------- metrics


def coverage(crop: np.ndarray, box: np.ndarray) -> float:
    """area(crop ∩ box) / area(box)."""
    iw = max(0.0, min(crop[2], box[2]) - max(crop[0], box[0]))
    ih = max(0.0, min(crop[3], box[3]) - max(crop[1], box[1]))
    return iw * ih / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def score_photo(ann: dict, crops: dict[str, tuple]) -> dict[str, dict[str, list]]:
    """Per ratio: kept / missed flags (photos with a subject) and one cut flag per face."""
    width, height = ann["size"]
    out: dict[str, dict[str, list]] = {}
    for label, ratio in RATIOS.items():
        crop = np.array(crops[label], dtype=np.float64)
        row: dict[str, list] = {"kept": [], "missed": [], "cut": []}
        if ann.get("subject") is not None:
            s = np.array(ann["subject"], dtype=np.float64)
            cw, ch = largest_crop(width, height, ratio)
            best = min(1.0, cw / (s[2] - s[0])) * min(1.0, ch / (s[3] - s[1]))
            cov = coverage(crop, s)
            row["kept"].append(cov >= 0.9 * best)
            row["missed"].append(cov < 0.5 * best)
        for face in ann.get("faces", []):
            inside = coverage(crop, np.array(face, dtype=np.float64))
            row["cut"].append(0.2 <= inside <= 0.8)
        out[label] = row
    return out


def summarise(rows: list[dict[str, dict[str, list]]]) -> dict[str, dict[str, float]]:
    """Per ratio and ``"all"``: kept, missed and faces-cut shares (NaN when nothing counted)."""
    table = {}
    for label in [*RATIOS, "all"]:
        labels = list(RATIOS) if label == "all" else [label]
        cell = {}
        for metric in ("kept", "missed", "cut"):
            flags = [f for row in rows for lab in labels for f in row[lab][metric]]
            cell[metric] = float(np.mean(flags)) if flags else float("nan")
        table[label] = cell
    return table


# ---------------------------------------------------------------------------- main


def half_of(name: str) -> str:
    """``"tuning"`` or ``"check"``: the first byte of SHA-256(source file name), even → tuning.

    A generated variant goes with its source (same photo, same half)."""
    source = DEV_VARIANTS.get(name, (name, ""))[0]
    return HALVES[hashlib.sha256(source.encode()).digest()[0] % 2]


def default_shared_photos() -> Path | None:
    """The shared development photos: ``$PROMPTCROP_DEV_PHOTOS``, else ``shared/data/dev-photos``
    beside the checkout (or beside the folder of worktrees holding it); None when none exists."""
    if os.environ.get(DEV_PHOTOS_ENV):
        return Path(os.environ[DEV_PHOTOS_ENV])
    repo = Path(__file__).resolve().parent.parent
    for base in (repo.parent, repo.parent.parent):
        folder = base / "shared" / "data" / "dev-photos"
        if folder.is_dir():
            return folder
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="?", type=Path,
                        help="folder of other annotated photos (with --annotations); replaces the development set")
    parser.add_argument("--annotations", type=Path, default=DEFAULT_ANNOTATIONS)
    parser.add_argument("--dev-photos", type=Path, default=None,
                        help=f"folder of the shared development photos (default: ${DEV_PHOTOS_ENV}, else "
                             "shared/data/dev-photos beside the checkout)")
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both", help="which half to run")
    parser.add_argument("--one-set", metavar="NAME",
                        help="report every photo as one set called NAME (for a folder of other photos, such as "
                             "benchmarks/fresh_photos.py's), not as the two halves")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per photo and method")
    parser.add_argument("--write-dev-photos", type=Path, metavar="DIR",
                        help="only write the package photos and their variants into DIR")
    parser.add_argument("--sheet", type=Path, help="write an overlay sheet of every method's 1:1 / 9:16 / 16:9 crops")
    parser.add_argument("--details", type=Path, help="write every photo's crops and flags (JSON) for diagnosis")
    args = parser.parse_args(argv)
    if args.write_dev_photos:
        for name in write_dev_photos(args.write_dev_photos):
            print(args.write_dev_photos / name)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        photos, annotations = photo_set(args.photos, args.annotations, Path(tmp), args.dev_photos)
        if args.half != "both":
            annotations = {n: a for n, a in annotations.items() if half_of(n) == args.half}
        group_of = (lambda name: args.one_set) if args.one_set else half_of
        return run(photos, annotations, args.repeats, args.sheet, args.details, group_of)


def photo_set(folder: Path | None, annotations_file: Path, tmp: Path,
              shared: Path | None) -> tuple[dict[str, Path], dict[str, dict]]:
    """Paths and annotations of the photos in ``folder`` annotated in ``annotations_file`` (an entry
    that is not an object is a note: a photo's name may start with ``_``), or of the development
    set when ``folder`` is None (:func:`development_set`); a file that cannot be read or a photo
    missing is a one-line exit."""
    if folder is None:
        return development_set(tmp, shared)
    try:
        annotations = json.loads(annotations_file.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the annotations {annotations_file}: {exc}") from None
    annotations = {name: ann for name, ann in annotations.items() if isinstance(ann, dict)}
    photos = {name: folder / name for name in annotations}
    missing = [name for name, path in photos.items() if not path.is_file()]
    if missing:
        raise SystemExit(f"{folder}: {len(missing)} annotated photos are missing, such as {missing[0]}")
    return photos, annotations


def development_set(tmp: Path, shared: Path | None) -> tuple[dict[str, Path], dict[str, dict]]:
    """Paths and annotations of the development set: the package photos and their variants
    (written into ``tmp``) and the shared photos, read where they are."""
    write_dev_photos(tmp)
    annotations = json.loads(DEFAULT_ANNOTATIONS.read_text())
    photos = {name: tmp / name for name in annotations}
    folder = shared if shared is not None else default_shared_photos()
    if folder is None or not folder.is_dir():
        if shared is not None:
            raise SystemExit(f"no such folder: {shared}")
        print("shared development photos not found (--dev-photos DIR): package photos only")
        return photos, annotations
    for name, ann in json.loads(DEV_PHOTOS_ANNOTATIONS.read_text()).items():
        photos[name] = folder / name
        annotations[name] = ann
    return photos, annotations


def versions(pyvips, detector_calls: int, object_calls: int) -> list[str]:
    """One line per method: what ran (package versions; whether the face and object detectors were
    used, and how often)."""
    from importlib.metadata import version

    import promptcrop

    lines = [f"promptcrop {promptcrop.__version__} ({_git_commit(Path(promptcrop.__file__).parent)}, "
             f"from {Path(promptcrop.__file__).parent}); face detector: "
             + (f"BlazeFace on ai-edge-litert {version('ai-edge-litert')}, {detector_calls} calls"
                if detector_calls else "did not run (not installed: skin-tone cue only)")
             + "; object detector: "
             + (f"EfficientDet-Lite0 from pyautoflip {version('pyautoflip')}, {object_calls} calls"
                if object_calls else "did not run (not installed)"),
             f"smartcrop {version('smartcrop')} (default settings)",
             f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} through pyvips "
             f"{version('pyvips')} (smartcrop, interesting=attention)",
             "centre: the largest crop of each ratio, centred"]
    return lines


def _git_commit(folder: Path) -> str:
    """``git describe --always --dirty`` of the checkout holding ``folder``."""
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(folder), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return "commit unknown"
    return out.stdout.strip() or "commit unknown"


def count_calls(obj, name: str) -> list[int]:
    """Wrap ``obj.name`` so that each call adds one to the returned one-element counter."""
    counter = [0]
    original = getattr(obj, name)

    def counted(*args, **kwargs):
        counter[0] += 1
        return original(*args, **kwargs)

    setattr(obj, name, counted)
    return counter


def run(photos: dict[str, Path], annotations: dict, repeats: int, sheet: Path | None,
        details: Path | None = None, group_of: Callable[[str], str] = half_of) -> int:
    """Crop every photo with every method, print each group's table (the halves by default;
    ``group_of`` maps a file name to its group) and the RESULT line."""
    import pyvips
    import smartcrop

    from promptcrop.predictor import Predictor
    from promptcrop.saliency.faces import default_detector
    from promptcrop.saliency.objects import default_object_detector

    predictor = Predictor(model=None)
    cropper = smartcrop.SmartCrop()
    detector = default_detector()
    calls = count_calls(detector, "detect") if detector is not None else [0]
    objects = default_object_detector()
    object_calls = count_calls(objects, "detect") if objects is not None else [0]
    runners = {
        "promptcrop": lambda p: run_promptcrop(p, predictor),
        "smartcrop": lambda p: run_smartcrop(p, cropper),
        "libvips": lambda p: run_libvips(p, pyvips),
        "centre": run_centre,
    }
    for method in METHODS:  # warm-up: imports, model files, caches
        runners[method](photos[next(iter(annotations))])
    groups = list(dict.fromkeys([*HALVES, *map(group_of, annotations)]))
    rows: dict[str, dict[str, list]] = {g: {m: [] for m in METHODS} for g in groups}
    times: dict[str, dict[str, float]] = {g: {m: 0.0 for m in METHODS} for g in groups}
    small: dict[str, float] = {m: 0.0 for m in METHODS}  # photos of at most SMALL_MEGAPIXELS
    small_count = 0
    boxes: dict[str, dict[str, dict]] = {}
    for name, ann in annotations.items():
        path = photos[name]
        with Image.open(path) as img:
            size = list(ImageOps.exif_transpose(img).size)
        if size != list(ann["size"]):
            raise SystemExit(f"{name}: annotated size {ann['size']} but the photo is {size}")
        durations: dict[str, list[float]] = {m: [] for m in METHODS}
        crops: dict[str, dict] = {}
        for _ in range(repeats):
            for method in METHODS:
                t0 = time.perf_counter()
                crops[method] = runners[method](path)
                durations[method].append(time.perf_counter() - t0)
        boxes[name] = crops
        group = group_of(name)
        is_small = size[0] * size[1] <= SMALL_MEGAPIXELS * 1e6
        small_count += is_small
        for method in METHODS:
            times[group][method] += statistics.median(durations[method])
            small[method] += statistics.median(durations[method]) if is_small else 0.0
            rows[group][method].append(score_photo(ann, crops[method]))
    for line in [*versions(pyvips, calls[0], object_calls[0]), cpu_line()]:
        print(line)
    if group_of is half_of:
        print("halves: SHA-256 of the source file name, first byte even → tuning, odd → check "
              "(variants with their source)")
    results = {}
    for group in groups:
        names = [n for n in annotations if group_of(n) == group]
        if not names:
            continue
        label = f"{group} half" if group in HALVES else f"{group} set"
        results[group] = report_group(label, names, annotations, rows[group], times[group])
    if sheet is not None:
        write_sheet(photos, annotations, boxes, sheet)
        print(f"overlay sheet: {sheet}")
    if details is not None:
        details.write_text(json.dumps({name: {"half": group_of(name), "crops": boxes[name],
                                              "flags": {m: score_photo(annotations[name], boxes[name][m])
                                                        for m in METHODS}}
                                       for name in boxes}, indent=1, default=bool))
        print(f"details: {details}")
    total = {m: sum(times[g][m] for g in groups) for m in METHODS}
    small_ratios = time_ratios(small)
    print(f"time on the {small_count} photos of at most {SMALL_MEGAPIXELS} MP: "
          + " ".join(f"{k}={v:.3f}" for k, v in small_ratios.items())
          + " (the total is weighted by the largest photos, where smartcrop is slowest)")
    print("RESULT "
          + " ".join(f"{key}_{half}_{m}={value:.3f}" for half, table in results.items()
                     for key, metric in (("kept", "kept"), ("miss", "missed"), ("facecut", "cut"))
                     for m in METHODS for value in [table[m]["all"][metric]])
          + "".join(f" {k}={v:.3f}" for k, v in time_ratios(total).items())
          + "".join(f" {k}_small={v:.3f}" for k, v in small_ratios.items()))
    return 0


def time_ratios(seconds: dict[str, float]) -> dict[str, float]:
    """promptcrop's time over each peer's (``time_ratio_smartcrop``, ``time_ratio_libvips``) from
    the seconds of each method; NaN for a peer that took no time (no photo)."""
    return {f"time_ratio_{peer}": seconds["promptcrop"] / seconds[peer] if seconds[peer] > 0 else float("nan")
            for peer in ("smartcrop", "libvips")}


def report_group(label: str, names: list[str], annotations: dict, rows: dict[str, list],
                times: dict[str, float]) -> dict[str, dict]:
    """Print one group's table (per method and ratio) and times, headed ``label``; return its summaries."""
    tables = {m: summarise(rows[m]) for m in METHODS}
    n_subject = sum(annotations[n].get("subject") is not None for n in names)
    n_faces = sum(len(annotations[n].get("faces", [])) for n in names)
    n_variants = sum(n in DEV_VARIANTS for n in names)
    print()
    print(f"## {label}: {len(names)} photos ({n_variants} generated variants), {n_subject} with a "
          f"subject, {n_faces} faces; ratios {', '.join(RATIOS)}")
    print()
    print("| method | " + " | ".join(f"{r} kept" for r in RATIOS) + " | kept | missed | faces cut | time (s) |")
    print("|---|" + "---|" * (len(RATIOS) + 4))
    for method in METHODS:
        cells = " | ".join(f"{tables[method][r]['kept']:.3f}" for r in RATIOS)
        a = tables[method]["all"]
        print(f"| {method} | {cells} | {a['kept']:.3f} | {a['missed']:.3f} | {a['cut']:.3f} | {times[method]:.2f} |")
    return tables


SHEET_COLOURS = {"promptcrop": (255, 60, 60), "smartcrop": (60, 200, 255), "libvips": (255, 210, 0),
                 "centre": (200, 200, 200)}


def write_sheet(
    photos: dict[str, Path], annotations: dict, boxes: dict, out: Path, ratios=("1:1", "9:16", "16:9"),
    per_row: int = 3,
) -> None:
    """Overlay sheet: per photo one tile per ratio with the annotated subject (white), faces
    (green) and each method's top-1 crop in its colour; ``per_row`` photos side by side."""
    tile, head = 200, 24
    names = list(annotations)
    rows = -(-len(names) // per_row)
    sheet = Image.new("RGB", (tile * len(ratios) * per_row, tile * rows + head), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    x = 6
    for method, colour in SHEET_COLOURS.items():
        draw.text((x, 6), method, fill=colour)
        x += 110
    draw.text((x, 6), "subject (white), faces (green); tiles: " + ", ".join(ratios), fill=(230, 230, 230))
    for index, name in enumerate(names):
        with Image.open(photos[name]) as img:
            photo = ImageOps.exif_transpose(img).convert("RGB")
        scale = (tile - 8) / max(photo.size)
        small = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))
        ann = annotations[name]
        for col, label in enumerate(ratios):
            ox = ((index % per_row) * len(ratios) + col) * tile + 4
            oy = (index // per_row) * tile + head + 4
            sheet.paste(small, (ox, oy))

            def rect(box, colour, width, ox=ox, oy=oy):
                b = [ox + box[0] * scale, oy + box[1] * scale, ox + box[2] * scale - 1, oy + box[3] * scale - 1]
                draw.rectangle(b, outline=colour, width=width)

            if ann.get("subject") is not None:
                rect(ann["subject"], (255, 255, 255), 1)
            for face in ann.get("faces", []):
                rect(face, (60, 230, 60), 1)
            for method, colour in SHEET_COLOURS.items():
                rect(boxes[name][method][label], colour, 2)
            draw.text((ox + 3, oy + 2), label, fill=(255, 255, 255))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(256).save(out) if out.suffix.lower() == ".png" else sheet.save(out, quality=88)


if __name__ == "__main__":
    sys.exit(main())
