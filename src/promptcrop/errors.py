"""The project's exceptions.

Every error a user can cause (bad file, bad option, missing weights) is a `PromptcropError`
subclass whose message is one self-contained line: the CLI prints it as
``promptcrop: error: <message>`` and exits non-zero, never with a traceback.
Invalid *configuration values* raise the built-in `ValueError` (see ``config.py``).
"""

from __future__ import annotations


class PromptcropError(Exception):
    """Base class of every error promptcrop raises on purpose."""


class ImageLoadError(PromptcropError):
    """An input image cannot be read: missing, empty, truncated, corrupt, not an image, too large."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ModelUnavailableError(PromptcropError):
    """Model weights cannot be loaded (offline, not cached, bad path); the message names the fix."""


class CheckpointError(PromptcropError):
    """A decoder checkpoint is missing, malformed, of an unknown version or made for another encoder."""


class DatasetError(PromptcropError):
    """A data set file is missing or malformed; the message names the file (and line)."""
