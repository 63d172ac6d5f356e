"""Range checks shared by every config dataclass and public function.

Each check raises ``ValueError`` naming the field, the allowed values and the value it got, e.g.
``"dropout must be a number in [0, 1), got 1.5"``, and returns the value unchanged so a caller can
check and assign in one line. ``bool`` is never accepted as a number (``True`` is an ``int`` in
Python, but ``epochs: true`` in a config file is a mistake). Integers are any
:class:`numbers.Integral` (NumPy integers included), numbers any finite :class:`numbers.Real`.

This module imports nothing but the standard library, so light modules can use it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _bounds_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """``"in [0, 1)"``, ``">= 1"``, ``"> 0"``, ``"<= 5"`` or ``""`` (no bound)."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def _within(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return False
    return not (high is not None and (value >= high if high_open else value > high))


def require_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` if it is an integer in ``[minimum, maximum]`` (either bound optional)."""
    if not _is_int(value) or not _within(value, minimum, maximum, False, False):
        bound = (
            f"in {minimum}..{maximum}" if minimum is not None and maximum is not None
            else _bounds_text(minimum, maximum, False, False)
        )
        raise ValueError(f"{name} must be an integer {bound}".rstrip() + f", got {value!r}")
    return value


def require_positive_int(name: str, value: Any) -> int:
    """``value`` if it is an integer ``>= 1``."""
    return require_int(name, value, minimum=1)


def require_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` if it is a finite number between ``low`` and ``high``.

    Bounds are inclusive unless ``low_open`` / ``high_open``; ``None`` means unbounded on that side.
    NaN and infinities are always refused.
    """
    if not _is_number(value) or not _within(value, low, high, low_open, high_open):
        bound = _bounds_text(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number {bound}".rstrip() + f", got {value!r}")
    return value


def require_positive(name: str, value: Any) -> float:
    """``value`` if it is a finite number ``> 0``."""
    return require_number(name, value, 0.0, low_open=True)


def require_non_negative(name: str, value: Any) -> float:
    """``value`` if it is a finite number ``>= 0``."""
    return require_number(name, value, 0.0)


def require_probability(name: str, value: Any) -> float:
    """``value`` if it is a number in ``[0, 1]`` (a probability or a share)."""
    return require_number(name, value, 0.0, 1.0)


def require_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def require_ordered_pair(name: str, value: Any, low: float, high: float) -> tuple[Any, Any]:
    """``tuple(value)`` if it is two numbers ``(min, max)`` with ``low <= min <= max <= high``.

    ``high`` may be ``math.inf`` (no upper bound); the two numbers themselves must be finite.
    """
    pair = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(_is_number(v) for v in pair) or not low <= pair[0] <= pair[1] <= high:
        raise ValueError(f"{name} must be (min, max) with {low:g} <= min <= max <= {high:g}, got {value!r}")
    return pair


def require_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
