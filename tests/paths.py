"""Where tests find the project's shared data (never copied into the repository).

The real GAIC captions live in ``shared/data/gaic-text`` beside the checkout (as CI lays it out);
``PROMPTCROP_GAIC_TEXT`` overrides that. Tests that need them skip when the folder is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
GAIC_TEXT_DIR = Path(
    os.environ.get("PROMPTCROP_GAIC_TEXT", REPO_ROOT.parent / "shared" / "data" / "gaic-text")
)


@contextlib.contextmanager
def benchmark_module(name: str) -> Iterator[ModuleType]:
    """``benchmarks/<name>.py`` loaded as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]
