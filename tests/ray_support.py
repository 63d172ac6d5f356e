"""Helpers of the Ray tests: they start Ray only inside a loopback-only network namespace.

Ray binds to the machine's external address, and tests may talk to loopback only, so ``make test``
runs the ``ray``-marked tests under ``unshare -n`` (``make test-ray``); anywhere else they skip.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from image_files import write_photo
from optional import missing, require


def require_isolated_network() -> None:
    """Skip (fail under ``CI=true``) unless Ray is installed and this process sees no network
    interface but loopback."""
    require("ray", "pip install 'promptcrop[ray]'")
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        missing(f"Ray tests need a loopback-only network namespace (interfaces here: {names}); "
                "run `make test-ray`, which wraps them in `unshare -n`")


@contextmanager
def ray_temp_dir() -> Iterator[str]:
    """A short, private temporary folder for one Ray start (its socket paths must stay short)."""
    folder = tempfile.mkdtemp(prefix="pc-ray-", dir="/tmp")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


BAD_FILES = {"corrupt.jpg": b"\xff\xd8\xff\xe0" + bytes(range(64)), "empty.png": b"", "notes.png": b"plain text"}


def photo_folder(root: Path, n: int = 30, *, size: tuple[int, int] = (96, 64)) -> Path:
    """``n`` files: ``n - 3`` photos of varied sizes and 3 bad files (about 10 %)."""
    good = n - len(BAD_FILES)
    for i in range(good):
        w, h = size[0] + 8 * (i % 5), size[1] + 6 * (i % 3)
        write_photo(root / f"p{i:02d}.{'png' if i % 4 == 0 else 'jpg'}", w, h, seed=i)
    for name, data in BAD_FILES.items():
        (root / name).write_bytes(data)
    return root


def records(out: Path) -> dict[str, dict]:
    """Every JSON record under ``out`` by relative path, without the timings (which differ)."""
    found = {}
    for path in sorted(out.rglob("*.json")):
        record = json.loads(path.read_text())
        record.pop("timings")
        found[path.relative_to(out).as_posix()] = record
    return found


def file_names(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
