"""The CPU a benchmark ran on, in one line: time figures depend on it.

The offline mode's object detector is an int8 network run by LiteRT's XNNPACK kernels. Those are
several times faster on a CPU with AVX-512 VNNI (or AVX-VNNI) than on one with AVX2 alone, while
smartcrop and libvips run no network: a time ratio against them is only comparable between runs on
CPUs with the same instruction sets (docs/BENCHMARKS.md, "Eleventh pass").
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

#: The CPU flags (as Linux names them in /proc/cpuinfo) that change how fast int8 networks run.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_line(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """``"cpu: <model>, <n> CPUs; with avx2 fma; without avx512f …"`` (the :data:`SPEED_FLAGS`) from
    ``cpuinfo`` (Linux); elsewhere the platform's processor name, instruction sets unknown."""
    model, flags = platform.processor() or platform.machine() or "unknown", None
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags" and flags is None:
            flags = set(value.split())
    parts = [f"cpu: {model}, {os.cpu_count()} CPUs"]
    if flags is None:
        parts.append("instruction sets unknown")
    else:
        having = [f for f in SPEED_FLAGS if f in flags]
        lacking = [f for f in SPEED_FLAGS if f not in flags]
        parts += [f"{word} {' '.join(found)}" for word, found in (("with", having), ("without", lacking)) if found]
    return "; ".join(parts)
