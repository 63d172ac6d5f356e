"""Cold start of the command line: ``promptcrop --help`` and a one-photo offline crop against
smartcrop's own CLI (and a libvips attention thumbnail when pyvips is installed).

In one run, on one scikit-image photo written as a JPEG, it times fresh processes — each command
``--runs`` times (≥ 5), the commands taking turns so that CPU contention hits them alike — and
reports the median wall time of each, with its median CPU time (user + system, the process and
its threads: what the command costs on a machine other work keeps busy) and the load average
before and after the runs:

- ``help``: ``promptcrop --help``;
- ``offline_crop``: ``promptcrop crop PHOTO --offline -a 1:1 -k 1 -o DIR --quiet``;
- ``smartcroppy``: ``smartcroppy --width W --height W PHOTO OUT`` (the ``smartcrop`` package's CLI);
- ``pyvips`` (only when pyvips imports): ``pyvips.Image.thumbnail(PHOTO, W, height=W,
  crop="attention")`` written to a file, in a fresh ``python -c`` process.

Then, from one ``python -X importtime`` run of each promptcrop command, the import time of the
main packages it loads (self time of their modules, so torch's excludes the NumPy it imports) and
of all imports — what the start-up is made of (Python measures self times per process, so imports
running in two threads at once, as when the offline predictor loads its detectors in the
background, can skew them).

Last line: ``RESULT help_s=<s> offline_crop_s=<s> smartcroppy_s=<s> ratio=<offline_crop_s /
smartcroppy_s>`` (wall times). Targets: ``help_s`` ≤ 0.1 and ``ratio`` ≤ 1.5, on an idle machine.

The promptcrop and smartcroppy commands are the console scripts beside this Python
(``python -m promptcrop.cli`` when promptcrop's is missing); with ``PYTHONPATH=src`` the
checkout's code runs. Every command runs once untimed first, so that compiled bytecode is cached
(in a temporary ``PYTHONPYCACHEPREFIX``, also when ``PYTHONDONTWRITEBYTECODE`` is set) as it is
for an installed package.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_line  # noqa: E402

#: Packages whose import time is reported: the self time of all their modules, so the figures add
#: up (torch's does not include the NumPy it imports).
PACKAGES = ("numpy", "PIL", "tqdm", "scipy", "skimage", "spacy", "torch", "transformers", "promptcrop")


def write_photo(name: str, folder: Path) -> Path:
    """The scikit-image photo ``name`` as a JPEG in ``folder``; returns its path."""
    import numpy as np
    import skimage.data
    from PIL import Image

    pixels = np.asarray(getattr(skimage.data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    path = folder / f"{name}.jpg"
    Image.fromarray(pixels[..., :3].astype(np.uint8)).save(path, quality=92)
    return path


def script(name: str) -> str | None:
    """The console script ``name`` installed beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def commands(photo: Path, width: int, work: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """The command lines to time, by name (pyvips only when it is installed)."""
    promptcrop = script("promptcrop")
    base = [promptcrop] if promptcrop else [sys.executable, "-m", "promptcrop.cli"]
    smartcroppy = script("smartcroppy")
    if smartcroppy is None:
        raise SystemExit("smartcroppy not found: install the smartcrop package (pip install -e '.[dev]')")
    out = {
        "help": [*base, "--help"],
        "offline_crop": [*base, "crop", str(photo), "--offline", "-a", "1:1", "-k", "1", "-o", str(work / "crops"),
                         "--quiet"],
        "smartcroppy": [smartcroppy, "--width", str(width), "--height", str(width), str(photo),
                        str(work / "smartcrop.jpg")],
    }
    if subprocess.run([sys.executable, "-c", "import pyvips"], capture_output=True, env=env).returncode == 0:
        code = (f"import pyvips; pyvips.Image.thumbnail({str(photo)!r}, {width}, height={width}, "
                f"crop='attention').write_to_file({str(work / 'vips.jpg')!r})")
        out["pyvips"] = [sys.executable, "-c", code]
    return out


def _cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_commands(cmds: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median wall seconds of each command over ``runs`` fresh processes, run in turns (their
    median CPU seconds are printed beside)."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for name, argv in cmds.items():  # one untimed run each: file-system caches, and a failing command stops here
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed ({done.returncode}): {' '.join(argv)}\n{done.stderr.strip()}")
    for _ in range(runs):
        for name, argv in cmds.items():
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_cpu_seconds() - cpu_start)
    for name, values in times.items():
        print(f"{name:13s} median {statistics.median(values):.3f} s, cpu {statistics.median(cpu[name]):.3f} s  "
              f"(runs: {' '.join(f'{v:.3f}' for v in values)})")
    return {name: statistics.median(values) for name, values in times.items()}


def import_times(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Seconds spent importing the modules of each of :data:`PACKAGES` (self time, summed), and
    all imports together (``"total"``), in one ``-X importtime`` run of a promptcrop command line."""
    if argv[0] == sys.executable:
        argv = argv[1:]
    else:  # a console script: run its entry point under the same interpreter
        argv = ["-c", "import sys; from promptcrop.cli import main; sys.exit(main(sys.argv[1:]))", *argv[1:]]
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env)
    found = dict.fromkeys((*PACKAGES, "total"), 0.0)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        seconds = int(self_us) / 1e6
        found["total"] += seconds
        package = name.strip().split(".")[0]
        if package in found:
            found[package] += seconds
    return found


def _load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "n/a" where the system has none."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per command (at least 5; default 11)")
    parser.add_argument("--photo", default="coffee", help="scikit-image photo (default coffee, 600 x 400)")
    parser.add_argument("--width", type=int, default=300, help="smartcroppy / pyvips output side (default 300)")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    if args.width < 1:
        parser.error("--width must be at least 1")
    import skimage.data

    if not callable(getattr(skimage.data, args.photo, None)):
        parser.error(f"--photo: skimage.data has no photo {args.photo!r}")
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        work = Path(tmp)
        # Compiled bytecode is cached, as for any installed package (the untimed first run of each
        # command fills the cache), but in this temporary folder rather than beside the sources.
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(work / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault("HF_HUB_OFFLINE", "1")
        photo = write_photo(args.photo, work)
        cmds = commands(photo, args.width, work, env)
        print(f"photo: skimage.data.{args.photo} -> {photo.name}; {args.runs} runs per command; "
              f"python {sys.version.split()[0]}")
        print(cpu_line())
        print(f"load average before: {_load_average()}")
        medians = time_commands(cmds, args.runs, env)
        print(f"load average after:  {_load_average()}")
        print("import time per package (s, self time of its modules in one -X importtime run; imports made "
              "by the detectors' loading thread at the same time as the main thread's can make Python's "
              "self times wrong, even negative, for the packages both import):")
        columns = (*PACKAGES, "total")
        print("  " + " ".join(f"{p:>12s}" for p in ("command", *columns)))
        for name in ("help", "offline_crop"):
            found = import_times(cmds[name], env)
            cells = (f"{found[p]:.3f}" for p in columns)
            print("  " + " ".join(f"{c:>12s}" for c in (name, *cells)))
    ratio = medians["offline_crop"] / medians["smartcroppy"]
    print(f"RESULT help_s={medians['help']:.3f} offline_crop_s={medians['offline_crop']:.3f} "
          f"smartcroppy_s={medians['smartcroppy']:.3f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
