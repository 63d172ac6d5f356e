"""The optional parts of promptcrop and the one line that names the extra a missing one needs.

The core install (``pip install promptcrop``: NumPy, Pillow, tqdm) runs the offline mode, the
command line and the batch runner over folders, JSON Lines and CSV manifests. Everything else is
an extra of ``pyproject.toml``; :data:`EXTRAS` says which one provides each importable module, so
that a missing one is reported as one line, e.g.::

    promptcrop: error: text queries need PyTorch: pip install 'promptcrop[torch]'

:func:`require` imports a module or raises that line (as the error class the caller chooses);
:func:`missing_extra` turns any ``ModuleNotFoundError`` of an optional module into it, which is how
the command line reports a sub-command whose extra is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from promptcrop.errors import ModelUnavailableError, PromptcropError

EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "transformers", "huggingface_hub", "safetensors", "scipy"),
    "keywords": ("spacy",),
    "demo": ("skimage",),
    "onnx": ("onnxruntime", "tokenizers"),
    "export": ("onnx", "onnxscript"),
    "serve": ("fastapi", "uvicorn", "multipart", "python_multipart", "prometheus_client", "starlette"),
    "faces": ("ai_edge_litert",),
    "parquet": ("pyarrow",),
    "stores": ("fsspec",),
    "ray": ("ray",),
    "video": ("av", "scenedetect"),
}
"""Extra → the top-level modules it installs that promptcrop imports (scikit-image comes with
``torch`` too, for the export's check photos)."""

PACKAGE_NAMES = {"torch": "PyTorch", "onnxruntime": "ONNX Runtime", "ray": "Ray Data", "pyarrow": "pyarrow",
                 "tokenizers": "tokenizers", "fastapi": "FastAPI", "uvicorn": "uvicorn", "skimage": "scikit-image",
                 "ai_edge_litert": "LiteRT", "spacy": "spaCy", "av": "PyAV",
                 "scenedetect": "PySceneDetect"}
"""How a module is named in the message (its import name otherwise)."""

_EXTRA_OF = {module: extra for extra, modules in EXTRAS.items() for module in modules}


class MissingExtraError(ModelUnavailableError):
    """An optional part of promptcrop is not installed. ``extra``: the ``promptcrop[...]`` extra
    that installs it; the message is one line ending in the ``pip install`` command.

    A :class:`~promptcrop.errors.ModelUnavailableError`: like missing weights, it is something the
    caller set up, and the service answers a query it cannot run with ``queries_unavailable``."""

    def __init__(self, message: str, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


def install_hint(extra: str) -> str:
    """``pip install 'promptcrop[EXTRA]'``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; expected one of {', '.join(EXTRAS)}")
    return f"pip install 'promptcrop[{extra}]'"


def missing_message(purpose: str, module: str, extra: str | None = None) -> str:
    """``"<purpose> <package>: pip install 'promptcrop[<extra>]'"`` — the one wording.

    ``purpose``: what needs it, with its verb ("text queries need", "promptcrop train needs");
    ``module``: the top-level module that is missing; ``extra``: default the one that provides it.
    """
    extra = extra or extra_of(module)
    name = PACKAGE_NAMES.get(module, module)
    return f"{purpose} {name}: {install_hint(extra)}"


def extra_of(module: str) -> str:
    """The extra that installs the top-level module ``module`` (``KeyError`` for a core one)."""
    return _EXTRA_OF[module.partition(".")[0]]


def require(
    module: str, purpose: str, *, extra: str | None = None, error: type[PromptcropError] = MissingExtraError
) -> ModuleType:
    """``import module``, or raise ``error`` with :func:`missing_message` (one line).

    ``error``: the class the caller's front ends expect (e.g. ``DatasetError`` for a data file
    that needs a reader); a :class:`MissingExtraError` by default.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module).partition(".")[0]
        if missing not in _EXTRA_OF:
            raise
        message = missing_message(purpose, missing, extra)
        if issubclass(error, MissingExtraError):
            raise error(message, extra or extra_of(missing)) from None
        raise error(message) from None


def missing_extra(exc: ModuleNotFoundError, purpose: str) -> MissingExtraError | None:
    """The :class:`MissingExtraError` for an optional module ``exc`` could not import (None when
    the missing module is not one an extra provides: then it is a real bug, not an install)."""
    module = (exc.name or "").partition(".")[0]
    if module not in _EXTRA_OF:
        return None
    return MissingExtraError(missing_message(purpose, module), extra_of(module))
