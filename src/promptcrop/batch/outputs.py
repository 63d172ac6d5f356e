"""Writing one input's results to disk: crop files, the overlay and the JSON record.

Layout for an input whose output *key* is ``sub/photo`` (see :mod:`promptcrop.batch` for how keys
are chosen) under the output folder ``DIR``:

- ``DIR/sub/photo.<rank>.<W>x<H>.<ext>`` — one file per crop, ``W``×``H`` its pixel size, in the
  input's format (JPEG → ``.jpg``, PNG → ``.png``...; PNG when Pillow cannot write the input's
  format), with the input's ICC profile;
- ``DIR/sub/photo.overlay.png`` — with ``--overlay``: the crops and grounded boxes drawn on the
  upright image;
- ``DIR/sub/photo.json`` — the record (:func:`promptcrop.results.build_record`), written **last**, so a record on
  disk means the files it names were complete before it. Every file is written atomically
  (temporary name, then rename).

A record is *complete* (:func:`record_is_complete`) when it parses, carries the expected
fingerprint and every file it names exists: the batch runner skips such inputs on a rerun.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.errors import RequestError
from promptcrop.images import LoadedImage, atomic_write_text, pillow_writes, save_image
from promptcrop.results import Prediction, build_record, crop_pixel_size

if TYPE_CHECKING:  # drawing modules are imported for overlays only
    from PIL import ImageDraw, ImageFont

# Pillow format → file suffix of the crops. Inputs in any other format (or arrays) give PNG.
_SUFFIXES = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "GIF": ".gif",
}
_FALLBACK_FORMAT = "PNG"

# Overlay colours: one per requested ratio (cycled), grounded boxes in white-on-black dashes.
_CROP_COLOURS = ((255, 64, 64), (64, 200, 255), (255, 210, 0), (120, 255, 120), (255, 120, 255))
_GROUND_COLOUR = (255, 255, 255)


@dataclass(frozen=True)
class OutputFormat:
    """How crops of one input are encoded: Pillow ``format`` name and file ``suffix`` (``.jpg``)."""

    format: str
    suffix: str


def output_format(input_format: str | None) -> OutputFormat:
    """The input's own format when Pillow can write it, else PNG (also for in-memory images)."""
    if input_format in _SUFFIXES and pillow_writes(input_format):
        return OutputFormat(input_format, _SUFFIXES[input_format])
    return OutputFormat(_FALLBACK_FORMAT, _SUFFIXES[_FALLBACK_FORMAT])


@dataclass(frozen=True)
class OutputPaths:
    """Where the outputs of one input go: ``folder / key + suffixes``.

    ``key`` is a relative POSIX path without suffix (``"sub/photo"``); it must stay inside
    ``folder`` (no absolute path, no ``..``).
    """

    folder: Path
    key: str

    def __post_init__(self) -> None:
        parts = Path(self.key).parts
        if not parts or Path(self.key).is_absolute() or ".." in parts:
            raise RequestError(f"output key must be a relative path inside the output folder, got {self.key!r}")

    @property
    def base(self) -> Path:
        return self.folder / self.key

    @property
    def record(self) -> Path:
        """``<key>.json``."""
        return self.base.with_name(self.base.name + ".json")

    @property
    def overlay(self) -> Path:
        """``<key>.overlay.png``."""
        return self.base.with_name(self.base.name + ".overlay.png")

    def crop(self, rank: int, size: tuple[int, int], suffix: str) -> Path:
        """``<key>.<rank>.<W>x<H><suffix>``."""
        return self.base.with_name(f"{self.base.name}.{rank}.{size[0]}x{size[1]}{suffix}")


def record_files(record: Mapping[str, Any]) -> list[str]:
    """Every file name a record refers to (crops, then the overlay if any)."""
    names = [str(c["file"]) for c in record.get("crops", [])]
    if record.get("overlay"):
        names.append(str(record["overlay"]))
    return names


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or ``None`` when missing or unreadable (never raises)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def record_is_complete(paths: OutputPaths, fingerprint: str) -> bool:
    """The record exists, was made from the same input and options, and all its files exist."""
    record = read_record(paths.record)
    if record is None or record.get("fingerprint") != fingerprint or not isinstance(record.get("crops"), list):
        return False
    try:
        names = record_files(record)
    except (KeyError, TypeError):
        return False
    return all((paths.record.parent / name).is_file() for name in names)


# --------------------------------------------------------------------------- writing


def write_outputs(
    paths: OutputPaths,
    image: LoadedImage,
    prediction: Prediction,
    *,
    input: str,  # noqa: A002 - the record's field name
    overlay: bool = False,
    explain: bool = False,
    fingerprint: str | None = None,
    protected: frozenset[Path] = frozenset(),
) -> dict[str, Any]:
    """Write every crop, the overlay (if asked), then the JSON record; return the record.

    ``input``, ``explain`` and ``fingerprint`` go into the record
    (:func:`promptcrop.results.build_record`).

    ``protected``: resolved paths that must never be written (the inputs): a clash raises
    ``OSError`` before anything is written. Crops are cut from the upright image with
    :meth:`CropResult.apply` (padding and resizing included) and keep the input's ICC profile.
    """
    fmt = output_format(image.format)
    crop_paths = [paths.crop(c.rank, crop_pixel_size(c), fmt.suffix) for c in prediction]
    crop_paths = _disambiguate(crop_paths)
    overlay_path = paths.overlay if overlay else None
    targets = [*crop_paths, paths.record] + ([overlay_path] if overlay_path else [])
    _refuse_protected(targets, protected)
    paths.record.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(image.array)
    for crop, path in zip(prediction, crop_paths):
        save_image(crop.apply(pil), path, format=fmt.format, icc_profile=image.icc_profile)
    if overlay_path is not None:
        save_image(draw_overlay(image.array, prediction), overlay_path, format="PNG")
    record = build_record(
        prediction, input=input, files=[p.name for p in crop_paths],
        overlay=overlay_path.name if overlay_path else None, explain=explain, fingerprint=fingerprint,
    )
    # The record is the commit mark: the files it names were fsynced before it, and losing the
    # record itself in an operating-system crash only means the input is cropped again on a
    # rerun (a torn or missing record is not complete), so it is not synced.
    atomic_write_text(paths.record, json.dumps(record, indent=2, ensure_ascii=False) + "\n", durable=False)
    return record


def _disambiguate(crop_paths: list[Path]) -> list[Path]:
    """Two ratios can round to the same pixel size: suffix later duplicates with ``-2``, ``-3``..."""
    seen: dict[Path, int] = {}
    out = []
    for path in crop_paths:
        count = seen.get(path, 0) + 1
        seen[path] = count
        out.append(path if count == 1 else path.with_name(f"{path.stem}-{count}{path.suffix}"))
    return out


def _refuse_protected(targets: Sequence[Path], protected: frozenset[Path]) -> None:
    for target in targets:
        if target.resolve() in protected:
            raise OSError(f"refusing to overwrite the input file {os.fspath(target)}")


# --------------------------------------------------------------------------- overlay


def draw_overlay(image: np.ndarray, prediction: Prediction) -> Image.Image:
    """The upright image (``uint8 [H, W, 3]``) with the crops and grounded boxes drawn on it.

    Crops: one colour per ratio, rank 1 drawn thickest, labelled ``<ratio> #<rank> <score>``.
    Grounded boxes (text queries): dashed white, labelled with their phrase. Boxes that leave the
    image (padded crops) are drawn clipped to it.
    """
    from PIL import ImageDraw, ImageFont

    pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(pil)
    W, H = pil.size
    unit = max(1, round(max(W, H) / 400))
    font = ImageFont.load_default(size=max(10, 6 * unit))
    colour_of: dict[str, tuple[int, int, int]] = {}
    for crop in prediction:  # colours in the order the ratios were asked
        label = crop.ratio
        colour_of.setdefault(label, _CROP_COLOURS[len(colour_of) % len(_CROP_COLOURS)])
    crops = sorted(prediction, key=lambda c: -c.rank)  # rank 1 last, on top
    for crop in crops:
        box = _clipped(crop.box, W, H)
        draw.rectangle(box, outline=colour_of[crop.ratio],
                       width=(3 if crop.rank == 1 else 1) * unit)
    for grounded in prediction.grounding:
        _dashed_rectangle(draw, _clipped(grounded.box, W, H), _GROUND_COLOUR, 2 * unit, 8 * unit)
    for crop in crops:  # labels over every outline; crops often share a corner: one row per crop
        label = crop.ratio
        row = (crop.rank - 1) * len(colour_of) + list(colour_of).index(label)
        _label(draw, _clipped(crop.box, W, H), f"{label} #{crop.rank} {crop.score:.2f}", colour_of[label],
               font, row=row)
    for grounded in prediction.grounding:
        _label(draw, _clipped(grounded.box, W, H), grounded.phrase, _GROUND_COLOUR, font, below=True)
    return pil


def _clipped(box: Sequence[float], width: int, height: int) -> list[float]:
    """Clip to the image and keep the far edges on the last pixel row/column (drawing is inclusive)."""
    x1, y1, x2, y2 = (float(v) for v in B.clamp_xyxy(np.asarray(box, dtype=np.float64), width, height))
    return [x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)]


def _label(
    draw: ImageDraw.ImageDraw, box: Sequence[float], text: str, colour: tuple[int, int, int],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont, *, below: bool = False, row: int = 0,
) -> None:
    """Text on a black patch inside the box's top-left corner (``row`` label heights lower), or
    its bottom-left corner with ``below``."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left + 4, bottom - top + 4
    x = box[0]
    y = box[3] - th if below else box[1] + row * th
    draw.rectangle([x, y, x + tw, y + th], fill=(0, 0, 0))
    draw.text((x + 2 - left, y + 2 - top), text, fill=colour, font=font)


def _dashed_rectangle(
    draw: ImageDraw.ImageDraw, box: Sequence[float], colour: tuple[int, int, int], width: int, dash: int
) -> None:
    x1, y1, x2, y2 = box
    for (ax, ay), (bx, by) in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = math.hypot(bx - ax, by - ay)
        steps = max(1, int(length // dash))
        for i in range(0, steps, 2):
            t0, t1 = i / steps, min((i + 1) / steps, 1.0)
            draw.line([(ax + (bx - ax) * t0, ay + (by - ay) * t0), (ax + (bx - ax) * t1, ay + (by - ay) * t1)],
                      fill=colour, width=width)
