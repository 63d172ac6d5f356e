"""What the pretrained detectors of the weight-free modes share: model files found inside installed
packages (without importing them), the LiteRT runtime, running a detector in the background, and
MediaPipe's weighted NMS.

Boxes are ``[N, 4]`` xyxy pixels.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from promptcrop import boxes as B

T = TypeVar("T")


def package_file(package: str, relative: str) -> Path | None:
    """The file ``relative`` inside the installed package ``package``, or None when the package or
    the file is missing. The package is looked up, never imported (the packages that ship these
    model files import TensorFlow, OpenCV or MediaPipe on import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    return None


def runtime_available() -> bool:
    """Whether the LiteRT runtime (``ai-edge-litert``) is installed."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def open_model(path: Path | None, threads: int, *, model: str, install: str) -> tuple[Any, dict[tuple, int]]:
    """A LiteRT interpreter for the model file ``path`` (:func:`load_interpreter`) and its output
    tensor indices by shape (batch axis left out). Raises ``RuntimeError`` naming the ``model`` and
    the ``install`` command when the file is missing, or when the runtime is."""
    if path is None or not path.is_file():
        raise RuntimeError(f"the {model} model file is missing ({install})")
    if not runtime_available():
        raise RuntimeError("the LiteRT runtime is missing (pip install ai-edge-litert)")
    interpreter = load_interpreter(path, threads)
    outputs = {tuple(d["shape"][1:]): d["index"] for d in interpreter.get_output_details()}
    return interpreter, outputs


def load_interpreter(path: Path, threads: int) -> Any:
    """A LiteRT interpreter for the model file ``path`` with its tensors allocated (the runtime's
    announcement of its CPU delegate on stderr is silenced)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    with quiet_stderr():
        interpreter.allocate_tensors()
    return interpreter


def in_background(function: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
    """Start ``function(*args, **kwargs)`` in a thread now; returns a function that waits for it and gives
    its result (or raises its exception). LiteRT releases the GIL while a model runs, so a detector
    works on one core while NumPy computes the cues on the other."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as err:  # handed to the caller of the returned function
            outcome["error"] = err

    thread = threading.Thread(target=run, name=f"promptcrop-{getattr(function, '__name__', 'task')}", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


#: One silencing at a time: two threads loading models at once would otherwise save the already
#: silenced descriptor and restore that, losing stderr for the rest of the process.
_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence the process's stderr file descriptor (native code writes there) for a moment; one
    thread at a time."""
    with _STDERR_LOCK:
        yield from _silenced()


def _silenced() -> Iterator[None]:
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def check_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as a contiguous uint8 ``[H, W, 3]`` array; ValueError for anything else."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image [H, W, 3], got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


__all__ = ["check_rgb", "in_background", "load_interpreter", "open_model", "package_file", "quiet_stderr", "runtime_available", "weighted_nms"]
