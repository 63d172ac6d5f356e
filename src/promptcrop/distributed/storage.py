"""Where images come from and where outputs go, as paths or URIs.

Anything without a ``scheme://`` is a local path, read and written directly. Anything with one
(``s3://bucket/prefix``, ``gs://...``, ``file:///...``) goes through pyarrow's file systems
(``pyarrow.fs.FileSystem.from_uri``), so every store pyarrow supports works, with its usual
credentials (environment, instance role...).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from promptcrop.errors import ImageLoadError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(location: str) -> bool:
    """``True`` for ``scheme://...``; ``False`` for a local path (also ``C:\\...``)."""
    return bool(_SCHEME.match(location))


def read_uri(uri: str) -> bytes:
    """The bytes of the object at ``uri``.

    Raises:
        ImageLoadError: missing or unreadable, with a one-line reason.
    """
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(uri)
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError:
        raise ImageLoadError(uri, "file not found", "missing") from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageLoadError(uri, f"cannot read ({first_line})", "unreadable") from None


class RemoteFolder:
    """A folder in a pyarrow file system; :meth:`upload` moves finished local files into it."""

    def __init__(self, uri: str) -> None:
        import pyarrow.fs

        self.uri = uri
        self.fs, root = pyarrow.fs.FileSystem.from_uri(uri)
        self.root = root.rstrip("/")

    def upload(self, staging: Path, names: list[str]) -> None:
        """Copy ``staging/<name>`` to ``<uri>/<name>`` for each name, in order (put the record
        last: an object appears only once written, so a record means its files are there), then
        delete the local copies (also when an upload fails)."""
        try:
            for name in names:
                target = f"{self.root}/{name}"
                self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
                with open(staging / name, "rb") as src, self.fs.open_output_stream(target) as dst:
                    dst.write(src.read())
        finally:
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staging / name)

    def __reduce__(self) -> tuple[Any, ...]:  # file systems re-open from the URI on each worker
        return (RemoteFolder, (self.uri,))
