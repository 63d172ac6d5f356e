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
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

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

    # Not a daemon: the process waits for the task at exit, so that stderr held back meanwhile
    # (quiet_stderr) is written out, not lost with the thread.
    thread = threading.Thread(target=run, name=f"promptcrop-{getattr(function, '__name__', 'task')}", daemon=False)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


#: What LiteRT writes to stderr when it builds an interpreter, and which is held back.
RUNTIME_ANNOUNCEMENT = b"Created TensorFlow Lite XNNPACK delegate"


#: One capture at a time (re-entrant: a capture inside a capture is part of it). Two threads
#: loading models at once would otherwise save the already redirected descriptor and restore that.
_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hold back what native code writes to the process's stderr descriptor for a moment, except
    that everything but LiteRT's announcement of its CPU delegate (:data:`RUNTIME_ANNOUNCEMENT`) is
    written out afterwards: another thread's error line or log record written meanwhile is delayed,
    never lost. Captures nest and are taken one thread at a time."""
    with _STDERR_LOCK:
        yield from _captured()


def _captured() -> Iterator[None]:
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2: nothing to hold back
        yield
        return
    with tempfile.TemporaryFile() as held:
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = b"".join(line for line in held.read().splitlines(keepends=True)
                            if RUNTIME_ANNOUNCEMENT not in line)
            while kept:  # a write may take only part of it
                kept = kept[os.write(2, kept):]


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
