"""A bounded on-disk result cache shared by every worker process of the service.

Entries are files ``{dir}/{key[:2]}/{key}.entry``: a 4-byte big-endian header length, a JSON
header (media type, explain headers, record) and the body. They are written to a temporary file
in the same folder and renamed into place (``os.replace``), so a reader sees a whole entry or
none. A hit touches the file's modification time: the least recently *used* entries are the
oldest files.

The size bound holds across processes: the running total lives in ``{dir}/.size``, read and
updated under an exclusive file lock (``filelock``) by every writer; a writer that takes it past
``max_bytes`` scans the folder and removes the oldest entries down to :data:`LOW_WATER` of the
bound (so a full cache is not rescanned on every write). Reads take no lock.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

LOW_WATER = 0.9
_HEADER = struct.Struct(">I")
_SUFFIX = ".entry"
_SIZE_FILE = ".size"
_LOCK_FILE = ".lock"
LOCK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer: ``body`` bytes and ``meta`` (JSON-ready: media type, headers, record)."""

    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)


class ResultCache:
    """``get`` / ``put`` by key (hex digest) under ``directory``, at most ``max_bytes`` on disk."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        from filelock import FileLock

        if max_bytes < 1:
            raise ValueError(f"cache size must be positive, got {max_bytes}")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        os.makedirs(self.directory, exist_ok=True)
        self._lock = FileLock(os.path.join(self.directory, _LOCK_FILE), timeout=LOCK_TIMEOUT_S)

    def _path(self, key: str) -> str:
        if not key.isalnum():
            raise ValueError("cache keys are hex digests")
        return os.path.join(self.directory, key[:2], key + _SUFFIX)

    def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` (and mark it used), or ``None``."""
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        entry = _decode(data)
        if entry is None:  # not ours or damaged: drop it
            _remove(path)
            return None
        try:
            os.utime(path)
        except OSError:
            pass  # evicted meanwhile: the bytes read are still a whole entry
        return entry

    def put(self, key: str, entry: CacheEntry) -> bool:
        """Store ``entry``; False when it alone is larger than the cache (not stored)."""
        data = _encode(entry)
        if len(data) > self.max_bytes:
            return False
        path = self._path(key)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            with self._lock:
                total = self._total() + len(data) - _size_of(path)
                os.replace(tmp, path)
                if total > self.max_bytes:
                    total = self._evict(keep=path)
                self._write_total(total)
        except BaseException:
            _remove(tmp)
            raise
        return True

    def size(self) -> int:
        """Bytes of the entries on disk now (a scan)."""
        return sum(size for _path, size, _mtime in self._entries())

    def _total(self) -> int:
        try:
            with open(os.path.join(self.directory, _SIZE_FILE)) as fh:
                return int(fh.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return self.size()

    def _write_total(self, total: int) -> None:
        target = os.path.join(self.directory, _SIZE_FILE)
        tmp = target + f".{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(str(total))
        os.replace(tmp, target)

    def _entries(self) -> list[tuple[str, int, float]]:
        found = []
        for sub in os.scandir(self.directory):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for item in os.scandir(sub.path):
                if item.name.endswith(_SUFFIX):
                    try:
                        st = item.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    found.append((item.path, st.st_size, st.st_mtime))
                elif item.name.startswith(".tmp-") and _stale(item.path):
                    _remove(item.path)  # left by a writer that died mid-write
        return found

    def _evict(self, keep: str) -> int:
        """Remove the least recently used entries (never ``keep``) down to the low-water mark;
        returns the bytes left. Called under the lock."""
        entries = sorted(self._entries(), key=lambda e: e[2])
        total = sum(size for _p, size, _m in entries)
        target = int(self.max_bytes * LOW_WATER)
        for path, size, _mtime in entries:
            if total <= target:
                break
            if path == keep:
                continue
            _remove(path)
            total -= size
        return total


def _encode(entry: CacheEntry) -> bytes:
    header = json.dumps(entry.meta, separators=(",", ":")).encode()
    return _HEADER.pack(len(header)) + header + entry.body


def _decode(data: bytes) -> CacheEntry | None:
    if len(data) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack_from(data)
    if _HEADER.size + length > len(data):
        return None
    try:
        meta = json.loads(data[_HEADER.size : _HEADER.size + length])
    except ValueError:
        return None
    return CacheEntry(body=data[_HEADER.size + length :], meta=meta)


def _size_of(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _stale(path: str, age_s: float = 600.0) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime > age_s
    except FileNotFoundError:
        return False


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
