"""Image files on disk for the CLI and batch tests: good photos, EXIF-rotated ones and every kind of
bad input (corrupt, truncated, zero-byte, not an image, unreadable)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

# Inputs of mixed_folder() that must fail, whoever runs the tests; "locked.png" (mode 000) fails
# too unless the tests run as root, who reads it anyway.
FAILING = ("corrupt.jpg", "truncated.jpg", "empty.png", "fake.png", "broken-link.jpg")


def photo(w: int = 96, h: int = 64, seed: int = 0) -> Image.Image:
    """A small RGB scene: noise with a bright square off-centre (something salient)."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 60 + 60).astype(np.uint8)
    arr[h // 5 : h // 5 + h // 3, w // 2 : w // 2 + w // 4] = (240, 40, 40)
    return Image.fromarray(arr)


def write_photo(path: Path, w: int = 96, h: int = 64, seed: int = 0, *, orientation: int | None = None,
                icc: bytes | None = None) -> Path:
    """Save :func:`photo` at ``path`` in the format its suffix names (EXIF orientation optional)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = photo(w, h, seed)
    params: dict = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    if icc is not None:
        params["icc_profile"] = icc
    img.save(path, **params)
    return path


def jpeg_bytes(w: int = 96, h: int = 64, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    photo(w, h, seed).save(buf, format="JPEG")
    return buf.getvalue()


def mixed_folder(root: Path) -> dict[str, str]:
    """A folder tree with good and bad inputs; returns ``{relative path: "ok" | "fail" | "ignored"}``.

    ``good.jpg`` and ``sub/good.jpg`` share a stem; ``rotated.jpg`` is stored 96x64 with EXIF
    orientation 6 (upright 64x96).
    """
    write_photo(root / "good.jpg", seed=1)
    write_photo(root / "sub" / "good.jpg", seed=2)
    write_photo(root / "sub" / "deeper" / "wide.png", 120, 60, seed=3)
    write_photo(root / "rotated.jpg", 96, 64, seed=4, orientation=6)
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(64))
    data = jpeg_bytes(96, 64, seed=5)
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "empty.png").write_bytes(b"")
    (root / "fake.png").write_text("this is not a picture\n")
    (root / "notes.txt").write_text("not an image file name: ignored\n")
    (root / ".hidden.jpg").write_bytes(jpeg_bytes())
    os.symlink(root / "missing-target.jpg", root / "broken-link.jpg")
    write_photo(root / "locked.png", seed=6)
    os.chmod(root / "locked.png", 0)
    outcome = {name: "fail" for name in FAILING}
    outcome.update({"good.jpg": "ok", "sub/good.jpg": "ok", "sub/deeper/wide.png": "ok", "rotated.jpg": "ok",
                    "notes.txt": "ignored", ".hidden.jpg": "ignored",
                    "locked.png": "ok" if os.geteuid() == 0 else "fail"})
    return outcome
