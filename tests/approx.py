"""Comparing records and predictions with a float tolerance.

The same call on the same weights gives logits that differ by about 1e-7 between runs under CPU
load (thread scheduling changes the order of float sums), so records are compared value by value:
equal structure, equal strings, ints and bools, floats within :data:`REL` / :data:`ABS`.
Timings are left out (they always differ).
"""

from __future__ import annotations

import math
from typing import Any

REL = 1e-5
ABS = 1e-6


def _close(a: Any, b: Any, path: str) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), f"{path}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=REL, abs_tol=ABS), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def assert_records_close(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Two JSON records (:func:`promptcrop.results.build_record`) equal up to float noise,
    timings left out."""
    _close({k: v for k, v in expected.items() if k != "timings"},
           {k: v for k, v in got.items() if k != "timings"}, "record")
