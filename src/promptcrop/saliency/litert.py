"""What the pretrained detectors of the weight-free modes share: a model ready to run (on LiteRT's C
API, or its Python ``Interpreter``), the tolerant build, what a detector looks at, and MediaPipe's
weighted NMS. The native side (model files inside installed packages, the C API, the runtime's
stderr, background threads) is :mod:`promptcrop.saliency.litert_c`, re-exported here.

Boxes are ``[N, 4]`` xyxy pixels.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.saliency.litert_c import (
    RUNTIME_ANNOUNCEMENT,
    RUNTIME_LOG,
    Once,
    compiled,
    in_background,
    package_file,
    quiet_stderr,
    runtime_available,
)

T = TypeVar("T")


class Model(Protocol):
    """A detector model ready to run (:func:`open_model`). ``input_shape``: its one input, batch
    axis included; ``output_shapes``: its outputs in order."""

    input_shape: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """The outputs for ``batch`` (of ``input_shape``), possibly views that the next run
        overwrites: callers serialise runs and copy what they keep."""
        ...


def open_model(path: Path | None, threads: int, *, model: str, install: str,
               warm_up: bool = True) -> tuple[Model, dict[tuple, int]]:
    """The model file ``path`` ready to run, and its outputs' positions by shape (batch axis left
    out). Compiled through LiteRT's C API (:mod:`promptcrop.saliency.litert_c`, without the GIL)
    where that API is usable (the model :func:`~promptcrop.saliency.litert_c.prebuild` started, or
    a new one, run once on zeros when ``warm_up``: its first run is slower); otherwise on the
    runtime's Python ``Interpreter`` (:class:`InterpreterModel`). Raises ``RuntimeError`` naming
    the ``model`` and the ``install`` command when the file is missing, or when the runtime is."""
    if path is None or not path.is_file():
        raise RuntimeError(f"the {model} model file is missing ({install})")
    if not runtime_available():
        raise RuntimeError("the LiteRT runtime is missing (pip install ai-edge-litert)")
    opened: Model
    try:
        opened = compiled(path, threads, warm_up=warm_up)
    except RuntimeError:  # an unchecked runtime version, or a file its C API rejects
        opened = InterpreterModel(path, threads)
    return opened, {tuple(shape[1:]): i for i, shape in enumerate(opened.output_shapes)}


class InterpreterModel:
    """A model on the runtime's Python ``Interpreter`` (:func:`load_interpreter`); its outputs are
    copies."""

    def __init__(self, path: Path, threads: int) -> None:
        self._interpreter = load_interpreter(path, threads)
        details = self._interpreter.get_input_details()[0]
        self._input = details["index"]
        self.input_shape = tuple(int(n) for n in details["shape"])
        outputs = self._interpreter.get_output_details()
        self._outputs = [d["index"] for d in outputs]
        self.output_shapes = tuple(tuple(int(n) for n in d["shape"]) for d in outputs)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index) for index in self._outputs]


def built_or_none(build: Callable[[], T], what: str) -> T | None:
    """``build()``, or None with one line on stderr naming ``what`` and why, when the installed model
    file or runtime cannot be used (a damaged or different file): the weight-free modes then go on
    without that detector, as when it is not installed."""
    try:
        return build()
    except (RuntimeError, OSError, ValueError) as err:
        print(f"promptcrop: {what} unusable ({err}); going on without it", file=sys.stderr)
        return None


def load_interpreter(path: Path, threads: int) -> Any:
    """A LiteRT interpreter for the model file ``path`` with its tensors allocated (the runtime's
    announcement of its CPU delegate on stderr is silenced)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    with quiet_stderr():
        interpreter.allocate_tensors()
    return interpreter


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each kept box is the score-weighted mean of the boxes it
    suppresses. ``boxes [n, 4]``, ``scores [n]`` → ``(boxes [m, 4], scores [m])`` best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    alive = np.ones(len(boxes), dtype=bool)
    out_boxes, out_scores = [], []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & (B.box_iou(boxes[i : i + 1], boxes)[0] > iou)
        group[i] = True
        weights = scores[group]
        out_boxes.append((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum())
        out_scores.append(scores[i])
        alive &= ~group
    if not out_boxes:
        return np.zeros((0, 4)), np.zeros(0)
    return np.array(out_boxes), np.array(out_scores)


def rgb_image(image: np.ndarray | Image.Image) -> Image.Image:
    """What a detector looks at: a PIL image in RGB, from a PIL image of any mode (converted only
    when it is not RGB already) or a uint8 ``[H, W, 3]`` array (:func:`check_rgb`)."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(check_rgb(image))
    return pil if pil.mode == "RGB" else pil.convert("RGB")


def check_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as a contiguous uint8 ``[H, W, 3]`` array; ValueError for anything else."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image [H, W, 3], got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


__all__ = [
    "RUNTIME_ANNOUNCEMENT",
    "RUNTIME_LOG",
    "InterpreterModel",
    "Model",
    "Once",
    "built_or_none",
    "check_rgb",
    "in_background",
    "load_interpreter",
    "open_model",
    "package_file",
    "quiet_stderr",
    "rgb_image",
    "runtime_available",
    "weighted_nms",
]
