"""Evaluation data sets: caption-conditioned crop sets, phrase-box sets, and GAIC for evaluation.

Caption-crop set (docs/DATA.md **[ours]**, for Horanyi-PR / TextCrop style sets) — one JSON list::

    [{"image": "rel/path.jpg", "query": "three white dogs", "boxes": [[x1, y1, x2, y2], ...]}, ...]

``boxes`` are the annotators' crops in pixel xyxy of the EXIF-upright image (at least one).

Phrase-box set (written by :func:`promptcrop.train.synthetic.write_gaic_dataset` as
``objects/<split>.json``, for grounding fine-tuning) — one JSON list::

    [{"image": "rel/path.jpg", "objects": [{"phrase": "red circle", "box": [x1, y1, x2, y2]}, ...]}]

In both, ``image`` is resolved relative to the JSON file's folder. Every entry is checked when the
file is loaded; a malformed one raises :class:`DatasetError` ``"<file>: entry <i>: <reason>"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptcrop.data.gaic import GaicDataset, GaicSample, outside_image, read_image_size, read_json
from promptcrop.errors import DatasetError


@dataclass(frozen=True)
class CaptionSample:
    """One (image, query) evaluation sample.

    ``image_path``: resolved path of the image. ``query``: the caption. ``boxes_xyxy_px``:
    ``[K, 4]`` float64, the annotators' crops (K ≥ 1) in pixel xyxy.
    """

    image_path: Path
    query: str
    boxes_xyxy_px: np.ndarray


@dataclass(frozen=True)
class PhraseBoxes:
    """The named objects of one image: ``phrases`` (K strings) and ``boxes_xyxy_px`` ``[K, 4]``
    float64 pixel xyxy, row ``k`` belonging to ``phrases[k]`` (K ≥ 1)."""

    image_path: Path
    phrases: tuple[str, ...]
    boxes_xyxy_px: np.ndarray


class _EntryError(Exception):
    """Reason an entry is malformed; turned into a DatasetError naming the file and entry."""


def _read_json_list(path: Path) -> list[Any]:
    data = read_json(path, "data set file")
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of entries")
    return data


def _field(entry: Any, key: str) -> Any:
    if not isinstance(entry, dict):
        raise _EntryError("expected an object")
    if key not in entry:
        raise _EntryError(f"missing key {key!r}")
    return entry[key]


def _text(entry: Any, key: str) -> str:
    value = _field(entry, key)
    if not isinstance(value, str) or not value.strip():
        raise _EntryError(f"{key!r} must be a non-empty string")
    return value


def _box(value: Any, what: str) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise _EntryError(f"{what} must be [x1, y1, x2, y2] numbers, got {value!r}")
    x1, y1, x2, y2 = (float(v) for v in value)
    if not np.isfinite([x1, y1, x2, y2]).all() or x2 <= x1 or y2 <= y1:
        raise _EntryError(f"{what} {value} is empty or not finite (need x1 < x2 and y1 < y2)")
    return [x1, y1, x2, y2]


def _image(entry: Any, folder: Path) -> tuple[Path, tuple[int, int]]:
    image_path = folder / _text(entry, "image")
    try:
        return image_path, read_image_size(image_path)
    except DatasetError as exc:
        raise _EntryError(str(exc)) from None


def _check_inside(boxes_xyxy_px: np.ndarray, size: tuple[int, int]) -> None:
    outside = outside_image(boxes_xyxy_px, size)
    if outside.any():
        first = boxes_xyxy_px[outside][0].tolist()
        raise _EntryError(f"box {first} reaches outside the {size[0]}x{size[1]} image")


def _load_entries(path: Path | str, parse: Any) -> list[Any]:
    path = Path(path)
    samples = []
    for index, entry in enumerate(_read_json_list(path)):
        try:
            samples.append(parse(entry, path.parent))
        except _EntryError as exc:
            raise DatasetError(f"{path}: entry {index}: {exc}") from None
    return samples


def _caption_sample(entry: Any, folder: Path) -> CaptionSample:
    query = _text(entry, "query")
    raw_boxes = _field(entry, "boxes")
    if not isinstance(raw_boxes, list) or not raw_boxes:
        raise _EntryError("'boxes' must be a non-empty list of [x1, y1, x2, y2]")
    boxes = np.array([_box(b, f"box {k}") for k, b in enumerate(raw_boxes)], dtype=np.float64)
    image_path, size = _image(entry, folder)
    _check_inside(boxes, size)
    return CaptionSample(image_path, query, boxes)


def _phrase_boxes(entry: Any, folder: Path) -> PhraseBoxes:
    objects = _field(entry, "objects")
    if not isinstance(objects, list) or not objects:
        raise _EntryError("'objects' must be a non-empty list of {'phrase', 'box'}")
    phrases = tuple(_text(obj, "phrase") for obj in objects)
    boxes = np.array(
        [_box(_field(obj, "box"), f"box of {p!r}") for obj, p in zip(objects, phrases)],
        dtype=np.float64,
    )
    image_path, size = _image(entry, folder)
    _check_inside(boxes, size)
    return PhraseBoxes(image_path, phrases, boxes)


def load_caption_set(path: Path | str) -> list[CaptionSample]:
    """Read a caption-crop evaluation set (format in the module docstring), checking every entry:
    keys present, non-empty query, boxes ``[x1, y1, x2, y2]`` with x1 < x2 and y1 < y2 inside the
    image, image file present and readable. Raises :class:`DatasetError` naming file and entry."""
    return _load_entries(path, _caption_sample)


def load_phrase_boxes(path: Path | str) -> list[PhraseBoxes]:
    """Read a phrase-box set (format in the module docstring) with the same checks as
    :func:`load_caption_set`."""
    return _load_entries(path, _phrase_boxes)


def load_gaic_eval(
    root: Path | str, split: str = "test", text_labels: Path | str | None = None
) -> list[GaicSample]:
    """A GAIC split for evaluation: every sample with its candidate crops, MOS and (with
    ``text_labels``) caption. Bad files always raise (an evaluation never silently drops images),
    and so does an image without any valid crop, which Acc_K/N cannot score."""
    dataset = GaicDataset(root, split, text_labels=text_labels, skip_bad=False)
    empty = [s.image_id for s in dataset if len(s.mos) == 0]
    if empty:
        raise DatasetError(
            f"{dataset.annotation_dir}: {len(empty)} image(s) have no valid crop (every line is "
            f"-2), e.g. {empty[0]}.txt"
        )
    return list(dataset)
