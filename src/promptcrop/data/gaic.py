"""Reader for the GAIC cropping data set (Zeng et al., TPAMI 2020) and its ClipCrop captions.

Layout (the one the public reference code uses; see docs/DATA.md)::

    <root>/images/{train,val,test}/<id>.jpg
    <root>/annotations/{train,val,test}/<id>.txt     one crop per line: "y1 x1 y2 x2 score"
    <text labels>/{train,valid,test}.json            {"<id>.jpg": "<caption>"}  (valid <-> val)

Annotation lines are **row first** (``y1 x1 y2 x2``) in pixels of the image, ``score`` is the MOS on
1..5 and ``-2`` marks an invalid crop, which is dropped. The reader turns every crop into xyxy
pixels (``x1 y1 x2 y2``, the project's convention, see :mod:`promptcrop.boxes`).

:class:`GaicDataset` checks *everything* when it is built — every annotation line, that every
image exists and is a readable image, that every crop lies inside its image, that every image has
a caption when text labels are given — so a bad file stops a run before training starts, with its
name and line. With ``skip_bad=True`` the bad samples are left out and listed in
``dataset.skipped`` instead.
Problems that concern the whole split (a missing folder, an unreadable caption file) always raise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from promptcrop.errors import DatasetError, ImageLoadError
from promptcrop.images import load_image

SPLITS = ("train", "val", "test")
"""GAIC split names as used by the image and annotation folders."""

TEXT_LABEL_FILES = {"train": "train.json", "val": "valid.json", "test": "test.json"}
"""Caption file of each split in the text-label folder (the release names the val split
``valid``)."""

MOS_RANGE = (1.0, 5.0)
"""Valid raw MOS values (GAIC marks invalid crops with -2; they must be dropped before)."""

INVALID_SCORE = -2.0
"""GAIC's score for an invalid crop; such lines are skipped."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
"""Image file endings looked for, in this order (the real set is all ``.jpg``)."""

BOUNDS_TOLERANCE_PX = 1.0
"""How far (pixels) a crop may reach past the image border before it counts as malformed."""

MAX_LISTED_PROBLEMS = 10
"""How many problems a :class:`DatasetError` message lists before saying how many more there are."""

_EXIF_ORIENTATION_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class DatasetProblem:
    """One bad data set file: ``location`` is ``"<file>"`` or ``"<file>:<line>"``."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


class _ProblemError(DatasetError):
    """A :class:`DatasetError` that also carries its :class:`DatasetProblem`."""

    def __init__(self, problem: DatasetProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _fail(location: Path | str, reason: str, line: int | None = None) -> _ProblemError:
    where = f"{location}:{line}" if line is not None else str(location)
    return _ProblemError(DatasetProblem(where, reason))


def problems_error(problems: Sequence[DatasetProblem], what: str) -> DatasetError:
    """One single-line :class:`DatasetError` listing the first problems of ``what`` (a split)."""
    listed = "; ".join(str(p) for p in problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    suffix = f"; ... and {more} more" if more > 0 else ""
    return DatasetError(
        f"{what}: {len(problems)} bad file(s): {listed}{suffix} (use --skip-bad to leave them out)"
    )


@dataclass(frozen=True)
class GaicSample:
    """One GAIC image with its annotated crops.

    ``crops_xyxy_px``: ``[N, 4]`` float64, valid crops as xyxy pixels of the EXIF-upright image
    (converted from the file's row-first ``y1 x1 y2 x2``). ``mos``: ``[N]`` float64, their MOS on
    1..5. ``image_size``: ``(width, height)`` of the EXIF-upright image. ``caption``: the text
    label, or None when the data set was read without text labels. N may be 0 (every line was
    ``-2``).
    """

    image_id: str
    image_path: Path
    caption: str | None
    crops_xyxy_px: np.ndarray
    mos: np.ndarray
    image_size: tuple[int, int]


# --------------------------------------------------------------------------- single files


def _parse_line(text: str, path: Path, line: int) -> tuple[list[float], float] | None:
    """``"y1 x1 y2 x2 score"`` → (xyxy, mos), or None for an invalid (-2) crop."""
    fields = text.split()
    if len(fields) != 5:
        raise _fail(path, f"expected 5 numbers 'y1 x1 y2 x2 score', got {len(fields)}", line)
    try:
        y1, x1, y2, x2, score = (float(f) for f in fields)
    except ValueError:
        raise _fail(path, f"not a number in {text.strip()!r}", line) from None
    if not all(np.isfinite([y1, x1, y2, x2, score])):
        raise _fail(path, f"non-finite value in {text.strip()!r}", line)
    if score == INVALID_SCORE:
        return None
    if not MOS_RANGE[0] <= score <= MOS_RANGE[1]:
        raise _fail(path, f"score {score:g} is neither a MOS in 1..5 nor -2 (invalid)", line)
    if min(x1, y1) < 0:
        raise _fail(path, f"negative coordinate in {text.strip()!r}", line)
    if x2 <= x1 or y2 <= y1:
        raise _fail(path, f"empty crop (need y1 < y2 and x1 < x2) in {text.strip()!r}", line)
    return [x1, y1, x2, y2], score


def read_annotation(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read one GAIC annotation file.

    Returns ``(crops_xyxy_px [N, 4] float64, mos [N] float64)``: the valid crops converted from the
    file's row-first ``y1 x1 y2 x2`` to ``x1 y1 x2 y2``; ``-2`` lines and blank lines are skipped.
    Raises :class:`DatasetError` ``"<file>:<line>: <reason>"`` for a malformed line and
    ``"<file>: <reason>"`` for a missing, unreadable or empty file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "missing annotation file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"unreadable annotation file ({exc.__class__.__name__})") from None
    crops: list[list[float]] = []
    scores: list[float] = []
    seen_line = False
    for number, line_text in enumerate(text.splitlines(), start=1):
        if not line_text.strip():
            continue
        seen_line = True
        parsed = _parse_line(line_text, path, number)
        if parsed is not None:
            crops.append(parsed[0])
            scores.append(parsed[1])
    if not seen_line:
        raise _fail(path, "empty annotation file")
    return np.asarray(crops, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64)


def read_image_size(path: Path | str) -> tuple[int, int]:
    """``(width, height)`` of the EXIF-upright image, from the file header (pixels not decoded).

    Raises :class:`DatasetError` naming the file when it is missing or not a readable image.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except FileNotFoundError:
        raise _fail(path, "missing image file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise _fail(path, f"not a readable image ({exc.__class__.__name__})") from None
    if orientation in _EXIF_ORIENTATION_SWAPS_AXES:
        return height, width
    return width, height


def load_rgb(path: Path | str) -> np.ndarray:
    """Decode an image file with :func:`promptcrop.images.load_image` (EXIF-upright RGB, as at
    inference): ``uint8 [H, W, 3]``, the size :func:`read_image_size` reports. Raises
    :class:`DatasetError` naming the file when it cannot be decoded."""
    try:
        return load_image(Path(path)).array
    except ImageLoadError as exc:
        raise _fail(exc.source, exc.reason) from None


def read_json(path: Path | str, what: str = "data set file") -> Any:
    """Parse a JSON file. Raises :class:`DatasetError` ``"<file>[:<line>]: <reason>"`` when it is
    missing, unreadable or not valid JSON; ``what`` names the file's role in the message."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, f"missing {what}") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"unreadable {what} ({exc.__class__.__name__})") from None


def load_text_labels(path: Path | str) -> dict[str, str]:
    """Read a caption file ``{"<id>.jpg": "<caption>"}``.

    Raises :class:`DatasetError` naming the file (and the JSON line) when it is missing, is not
    valid JSON, is not an object, or maps a name to something other than a string.
    """
    path = Path(path)
    data = read_json(path, "text label file")
    if not isinstance(data, dict):
        raise _fail(path, 'expected an object {"<id>.jpg": "<caption>"}')
    for name, caption in data.items():
        if not isinstance(caption, str):
            raise _fail(path, f"caption of {name!r} is not a string")
    return data


def text_label_path(text_labels: Path | str, split: str) -> Path:
    """The caption file of ``split``: ``text_labels`` itself if it is a file, else the split's file
    in that folder (``val`` → ``valid.json``)."""
    _check_split(split)
    text_labels = Path(text_labels)
    return text_labels if text_labels.is_file() else text_labels / TEXT_LABEL_FILES[split]


def candidate_grid(
    width: int,
    height: int,
    bins: int = 12,
    corner_bins: int = 4,
    min_area: float = 0.5,
    aspect_range: tuple[float, float] = (0.5, 2.0),
) -> np.ndarray:
    """GAIC's grid-anchor candidate crops of a ``width × height`` image: ``[N, 4]`` float xyxy
    pixels with whole-pixel values.

    The image is cut into ``bins × bins`` cells; x1/y1 lie at the centres of the first
    ``corner_bins`` cells and x2/y2 at the centres of the last ``corner_bins`` (as in the public
    GAIC code); crops covering less than ``min_area`` of the image (in cell units) or with a pixel
    aspect ratio w/h outside the open ``aspect_range`` are dropped. With the defaults this gives 90
    crops for a square image and 87 for 4:3, GAIC's ~86–90.
    """
    if not 0 < corner_bins <= bins // 2:
        raise ValueError(f"corner_bins must lie in 1..{bins // 2}, got {corner_bins}")
    starts = np.arange(corner_bins)
    ends = np.arange(bins - corner_bins, bins)
    x1, y1, x2, y2 = (a.reshape(-1) for a in np.meshgrid(starts, starts, ends, ends, indexing="ij"))
    area = (x2 - x1) * (y2 - y1) / float(bins * bins)
    aspect = ((x2 - x1) * width) / ((y2 - y1) * height)
    keep = (area > min_area - 1e-4) & (aspect > aspect_range[0]) & (aspect < aspect_range[1])
    cells = np.stack([x1, y1, x2, y2], axis=1)[keep] + 0.5  # cell centres, in cell units
    return np.floor(cells * np.array([width, height, width, height]) / bins)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown GAIC split {split!r}; expected one of {', '.join(SPLITS)}")


# --------------------------------------------------------------------------- the data set


def _find_image(image_dir: Path, image_id: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        candidate = image_dir / f"{image_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _stems(folder: Path, suffixes: tuple[str, ...]) -> set[str]:
    return {p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes}


def outside_image(boxes_xyxy_px: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[N, 4]`` xyxy px → ``[N]`` bool: boxes reaching more than :data:`BOUNDS_TOLERANCE_PX`
    past the border of an image of ``image_size`` (W, H)."""
    boxes_xyxy_px = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    limit = np.array(image_size * 2, dtype=np.float64) + BOUNDS_TOLERANCE_PX
    return ((boxes_xyxy_px < -BOUNDS_TOLERANCE_PX) | (boxes_xyxy_px > limit)).any(axis=1)


def _check_bounds(crops_xyxy_px: np.ndarray, size: tuple[int, int], path: Path) -> None:
    outside = np.nonzero(outside_image(crops_xyxy_px, size))[0]
    if outside.size:
        first = crops_xyxy_px[outside[0]].tolist()
        raise _fail(
            path,
            f"{outside.size} crop(s) reach outside the {size[0]}x{size[1]} image, "
            f"first (x1 y1 x2 y2) {first}",
        )


class GaicDataset(Sequence[GaicSample]):
    """One split of GAIC, fully validated when constructed (see the module docstring).

    ``root``: folder holding ``images/`` and ``annotations/``. ``split``: ``train``, ``val`` or
    ``test``. ``text_labels``: the caption folder (``train.json`` / ``valid.json`` / ``test.json``)
    or one caption file; None reads no captions. ``skip_bad``: leave bad samples out (listed in
    :attr:`skipped`) instead of raising one :class:`DatasetError` that lists them.
    ``cache_images``: keep every image :meth:`load_image` decodes in memory (``H × W × 3`` bytes
    each, read-only), so that later epochs skip the decoding.

    Samples are ordered by image id. Indexing returns :class:`GaicSample`.
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        text_labels: Path | str | None = None,
        skip_bad: bool = False,
        cache_images: bool = False,
    ) -> None:
        _check_split(split)
        self._images: dict[int, np.ndarray] | None = {} if cache_images else None
        self.root = Path(root)
        self.split = split
        self.image_dir = self.root / "images" / split
        self.annotation_dir = self.root / "annotations" / split
        for folder in (self.image_dir, self.annotation_dir):
            if not folder.is_dir():
                raise DatasetError(f"{folder}: missing GAIC folder (expected images/ and "
                                   f"annotations/ with train, val, test under {self.root})")
        self.text_label_file = None if text_labels is None else text_label_path(text_labels, split)
        captions = None if self.text_label_file is None else load_text_labels(self.text_label_file)
        self.samples: list[GaicSample] = []
        self.skipped: list[DatasetProblem] = []
        ids = _stems(self.image_dir, IMAGE_SUFFIXES) | _stems(self.annotation_dir, (".txt",))
        for image_id in sorted(ids):
            try:
                self.samples.append(self._read_sample(image_id, captions))
            except _ProblemError as exc:
                self.skipped.append(exc.problem)
        if self.skipped and not skip_bad:
            raise problems_error(self.skipped, f"GAIC {split} split in {self.root}")

    def _read_sample(self, image_id: str, captions: dict[str, str] | None) -> GaicSample:
        annotation_path = self.annotation_dir / f"{image_id}.txt"
        image_path = _find_image(self.image_dir, image_id)
        if image_path is None:
            raise _fail(self.image_dir / f"{image_id}.jpg", f"missing image for {annotation_path}")
        crops, mos = read_annotation(annotation_path)
        size = read_image_size(image_path)
        _check_bounds(crops, size, annotation_path)
        caption = None
        if captions is not None:
            caption = captions.get(image_path.name)
            if caption is None or not caption.strip():
                raise _fail(self.text_label_file or "", f"no caption for {image_path.name}")
        return GaicSample(image_id, image_path, caption, crops, mos, size)

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> GaicSample: ...

    @overload
    def __getitem__(self, index: slice) -> list[GaicSample]: ...

    def __getitem__(self, index: int | slice) -> GaicSample | list[GaicSample]:
        return self.samples[index]

    def load_image(self, index: int) -> np.ndarray:
        """The ``index``-th sample's image, ``uint8 [H, W, 3]`` RGB, EXIF-upright (read-only when
        it comes from the cache)."""
        if self._images is None:
            return load_rgb(self.samples[index].image_path)
        image = self._images.get(index)
        if image is None:
            image = load_rgb(self.samples[index].image_path)
            image.setflags(write=False)
            self._images[index] = image
        return image
