"""Image sources: the roots an operator configures, and the only places crop URLs read from.

- :class:`LocalSource` — a folder. A path is resolved one component at a time below the root
  (``lstat``, and for a symlink its target worked out as text first), so a path that would leave
  the root — ``..``, an absolute symlink, a relative one climbing out — is refused before anything
  outside the root is opened or even looked at.
- :class:`StoreSource` — a filesystem URI that pyarrow opens (``s3://bucket/prefix``,
  ``gs://bucket/prefix``, ``file:///srv/photos``...) or, for other schemes, fsspec (through
  pyarrow's ``FSSpecHandler``: ``memory://``, ``az://``...); object keys are the root's prefix plus
  the URL's path segments, which :func:`~promptcrop.serve.url.grammar.split_path` already
  stripped of ``.``/``..``/separators. A ``file://`` root gets the local symlink check as well.

Both give :meth:`stat` (the object's identity for the ETag: size and modification time) and
:meth:`read` (the bytes, at most ``max_bytes``). Errors are :class:`SourceMissing` (404) and
:class:`SourceFailure` (502); their messages never name the root or the server's paths.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat as stat_mod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from promptcrop.errors import PromptcropError, RequestError

MAX_SYMLINK_HOPS = 40
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_SOURCE = "default"
STORES_HINT = "pip install 'promptcrop[stores]'"


class SourceMissing(PromptcropError):
    """No such image in the source (or a path that leaves it): 404."""


class SourceFailure(PromptcropError):
    """The source could not be read (store down, permission, I/O error): 502. The message is
    generic; ``source`` names the source and ``__cause__`` is the store's own error (for the log)."""

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class SourceTooLarge(PromptcropError):
    """The source object is larger than the server's limit: 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the source image is larger than the server's limit of {max_bytes / 2**20:g} MB")


@dataclass(frozen=True)
class ObjectInfo:
    """What identifies one version of a source object: its ``size`` and ``version`` (the
    modification time in ns, or the store's own tag)."""

    size: int
    version: str


class Source(Protocol):
    """``name``: the source's name in URLs; ``local``: ``stat`` is a local file-system call, cheap
    enough to make on the event loop (a remote store's goes to a thread, with the timeout)."""

    name: str
    local: bool

    def stat(self, parts: Sequence[str]) -> ObjectInfo: ...

    def read(self, parts: Sequence[str], max_bytes: int) -> bytes: ...


_MISSING = "no such image in this source"
_UNREADABLE = "the image source could not be read"


class LocalSource:
    """A folder root; see the module docstring for how a path is kept inside it."""

    local = True

    def __init__(self, name: str, root: str | os.PathLike[str]) -> None:
        self.name = name
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise RequestError(f"source {name!r}: {os.fspath(root)!r} is not a folder")

    def resolve(self, parts: Sequence[str]) -> str:
        """The real path of ``parts`` below the root (:class:`SourceMissing` if it leaves it)."""
        return resolve_inside(self.root, parts)

    def stat(self, parts: Sequence[str]) -> ObjectInfo:
        path = self.resolve(parts)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise SourceMissing(_MISSING) from None
        except OSError as exc:
            raise SourceFailure(_UNREADABLE, self.name) from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise SourceMissing(_MISSING)
        return ObjectInfo(st.st_size, f"{st.st_mtime_ns}-{st.st_ino}")

    def read(self, parts: Sequence[str], max_bytes: int) -> bytes:
        path = self.resolve(parts)
        try:
            with open(path, "rb") as fh:
                return _bounded(fh.read(max_bytes + 1), max_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise SourceMissing(_MISSING) from None
        except OSError as exc:
            raise SourceFailure(_UNREADABLE, self.name) from exc


def resolve_inside(root: str, parts: Sequence[str]) -> str:
    """Resolve ``parts`` below the real folder ``root`` without leaving it.

    Each component is ``lstat``-ed inside the path resolved so far; a symlink's target is joined
    and normalised as text and must still be inside ``root`` before it is followed, so nothing
    outside the root is ever looked up. Raises :class:`SourceMissing` for a path that leaves the
    root, does not exist, or loops.
    """
    pending = list(parts)
    current = root
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":  # split_path refuses these already; never above the root regardless
            if current == root:
                _refuse()
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            raise SourceMissing(_MISSING) from None
        except OSError as exc:
            raise SourceFailure(_UNREADABLE) from exc
        if not stat_mod.S_ISLNK(st.st_mode):
            current = candidate
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise SourceMissing(_MISSING)
        target = os.path.normpath(os.path.join(current, os.readlink(candidate)))
        if not _inside(root, target):
            _refuse()
        # restart from the root with the target's components below it, then what was pending
        pending = [p for p in os.path.relpath(target, root).split(os.sep) if p not in ("", ".")] + pending
        current = root
    if current == root:
        _refuse()
    return current


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _refuse() -> None:
    raise SourceMissing(_MISSING)


def _bounded(data: bytes, max_bytes: int) -> bytes:
    if len(data) > max_bytes:
        raise SourceTooLarge(max_bytes)
    return data


class StoreSource:
    """A filesystem URI (object store or any pyarrow / fsspec filesystem); see the module doc."""

    def __init__(self, name: str, uri: str) -> None:
        self.name = name
        self.uri = uri
        self.fs, self.prefix = open_filesystem(uri)
        self.local_root = _local_root(self.fs, self.prefix)
        self.local = self.local_root is not None

    def key(self, parts: Sequence[str]) -> str:
        if self.local_root is not None:
            resolve_inside(self.local_root, parts)  # symlinks must not leave a file:// root either
        return posixpath.join(self.prefix, *parts) if self.prefix else "/".join(parts)

    def stat(self, parts: Sequence[str]) -> ObjectInfo:
        from pyarrow import fs as pafs

        key = self.key(parts)
        try:
            info = self.fs.get_file_info(key)
        except (OSError, ValueError) as exc:
            raise SourceFailure(_UNREADABLE, self.name) from exc
        if info.type != pafs.FileType.File:
            raise SourceMissing(_MISSING)
        mtime = info.mtime_ns if info.mtime_ns is not None else ""
        return ObjectInfo(int(info.size or 0), str(mtime))

    def read(self, parts: Sequence[str], max_bytes: int) -> bytes:
        key = self.key(parts)
        try:
            with self.fs.open_input_stream(key) as stream:
                return _bounded(stream.read(max_bytes + 1), max_bytes)
        except FileNotFoundError:
            raise SourceMissing(_MISSING) from None
        except (OSError, ValueError) as exc:
            raise SourceFailure(_UNREADABLE, self.name) from exc


def open_filesystem(uri: str) -> tuple[Any, str]:
    """``(pyarrow FileSystem, prefix)`` for ``uri``: pyarrow's own filesystems first, fsspec's
    for the schemes pyarrow does not know (:class:`RequestError` naming the URI otherwise)."""
    try:
        from pyarrow import fs as pafs
    except ImportError:
        raise RequestError(f"source {uri!r} needs pyarrow and fsspec: {STORES_HINT}") from None
    try:
        fs, prefix = pafs.FileSystem.from_uri(uri)
        return fs, prefix.rstrip("/")
    except (ValueError, OSError):  # pyarrow.ArrowInvalid is a ValueError: not a scheme it knows
        pass
    try:
        import fsspec
    except ImportError:
        raise RequestError(f"source {uri!r}: pyarrow cannot open it and fsspec is not installed: {STORES_HINT}") from None
    try:
        fs, prefix = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError, OSError) as exc:
        raise RequestError(f"source {uri!r} cannot be opened: {exc}") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), prefix.rstrip("/")


def _local_root(fs: Any, prefix: str) -> str | None:
    from pyarrow import fs as pafs

    if isinstance(fs, pafs.LocalFileSystem):
        root = os.path.realpath(prefix or "/")
        if not os.path.isdir(root):
            raise RequestError(f"source root {prefix!r} is not a folder")
        return root
    return None


def parse_source(spec: str, index: int) -> Source:
    """``NAME=ROOT`` or ``ROOT`` (named ``default`` when first, ``sourceN`` otherwise); ROOT a
    folder or a filesystem URI."""
    name, sep, root = spec.partition("=")
    if not sep or _URI.match(spec) and spec.index("=") > spec.index("://"):
        name, root = (DEFAULT_SOURCE if index == 0 else f"source{index + 1}"), spec
    if not _NAME.match(name):
        raise RequestError(f"source name {name!r}: use letters, digits, - and _")
    if not root:
        raise RequestError(f"source {name!r} has no root")
    return StoreSource(name, root) if _URI.match(root) else LocalSource(name, root)
