"""The project's exceptions, the one-line reasons front ends print, and their stable codes.

Every error a caller can cause (bad file, bad option value, a query without weights) is a
:class:`PromptcropError` whose message is one self-contained line that names no command-line flag
(front ends add their own hints). Which class tells what a front end does with it:

- :class:`RequestError` (also a ``ValueError``) — the request itself is wrong and the caller can fix
  it: the CLI prints it (exit 1 or 2), the service answers 4xx. :class:`ImageLoadError` is one.
- :class:`ModelUnavailableError`, :class:`CheckpointError`, :class:`DatasetError` — something the
  caller set up (weights, a checkpoint, a data file) is missing or malformed.
- :class:`DeadlineExceeded` — the caller's deadline passed; the call stopped between two stages.
- :class:`InternalError` — a contract between promptcrop's own parts was broken (a tensor of the
  wrong shape, say): a bug, never the caller's fault. Front ends report it as an internal error.

Invalid *configuration values* of the typed config dataclasses raise the built-in ``ValueError``.
"""

from __future__ import annotations

#: ``ImageLoadError.kind`` values.
IMAGE_ERROR_KINDS = ("missing", "unreadable", "empty", "not_image", "corrupt", "too_large")


class PromptcropError(Exception):
    """Base class of every error promptcrop raises on purpose."""


class RequestError(PromptcropError, ValueError):
    """A bad request the caller can fix: an option value, a box, a ratio, a size, a combination."""


class ImageLoadError(RequestError):
    """An input image cannot be used: missing, empty, truncated, corrupt, not an image, too large.

    ``source`` names the input, ``reason`` says why in a few words, ``kind`` is one of
    :data:`IMAGE_ERROR_KINDS` (a service maps ``too_large`` to 413, ``not_image`` to 415).
    """

    def __init__(self, source: str, reason: str, kind: str = "corrupt") -> None:
        if kind not in IMAGE_ERROR_KINDS:
            raise InternalError(f"unknown image error kind {kind!r}")
        self.source = source
        self.reason = reason
        self.kind = kind
        super().__init__(f"{source}: {reason}")


class ModelUnavailableError(PromptcropError):
    """Model weights cannot be loaded (offline, not cached, bad path); the message names the fix."""


class CheckpointError(PromptcropError):
    """A decoder checkpoint is missing, malformed, of an unknown version or made for another encoder."""


class DatasetError(PromptcropError):
    """A data set file is missing or malformed; the message names the file (and line)."""


class DeadlineExceeded(PromptcropError):
    """A call ran past its deadline (or was cancelled) and stopped between two stages
    (:mod:`promptcrop.deadline`); nothing of it is returned."""


class InternalError(PromptcropError, RuntimeError):
    """A contract between promptcrop's own parts was broken: a bug, not the caller's fault."""


def is_user_error(exc: BaseException) -> bool:
    """True for errors the caller caused or can fix (everything but internal and unexpected ones)."""
    return isinstance(exc, (PromptcropError, ValueError)) and not isinstance(exc, InternalError)


def failure_reason(exc: BaseException) -> str:
    """The one line every front end gives for an input that failed with ``exc``."""
    if isinstance(exc, ImageLoadError):
        return exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"cannot write the outputs: {exc.strerror}{where}"
    if is_user_error(exc) or isinstance(exc, OSError):
        return str(exc) or type(exc).__name__
    return f"internal error ({type(exc).__name__}: {exc})"


def error_code(exc: BaseException) -> str:
    """A stable machine-readable code for ``exc`` (service error bodies, Ray error rows).

    ``image_too_large``, ``not_an_image``, ``bad_image``, ``bad_request``, ``queries_unavailable``,
    ``checkpoint``, ``dataset``, ``timeout`` (past a deadline), ``output`` (writing failed) or ``internal``.
    """
    if isinstance(exc, ImageLoadError):
        return {"too_large": "image_too_large", "not_image": "not_an_image"}.get(exc.kind, "bad_image")
    if isinstance(exc, ModelUnavailableError):
        return "queries_unavailable"
    if isinstance(exc, CheckpointError):
        return "checkpoint"
    if isinstance(exc, DatasetError):
        return "dataset"
    if isinstance(exc, DeadlineExceeded):
        return "timeout"
    if is_user_error(exc):
        return "bad_request"
    if isinstance(exc, OSError):
        return "output"
    return "internal"
