import math

import numpy as np
import pytest

from promptcrop import validation as V


def test_checks_return_the_value_they_accept():
    assert V.require_int("n", 3, minimum=0) == 3
    assert V.require_int("n", np.int64(2), minimum=1) == 2  # NumPy integers are integers
    assert V.require_positive_int("k", 1) == 1
    assert V.require_number("x", 0.5, 0.0, 1.0) == 0.5
    assert V.require_number("x", 1, 0.0, 1.0) == 1  # an int is a number
    assert V.require_positive("lr", 1e-4) == 1e-4
    assert V.require_non_negative("decay", 0) == 0
    assert V.require_probability("p", 1.0) == 1.0
    assert V.require_bool("flag", False) is False
    assert V.require_ordered_pair("r", [1, 2], 0, math.inf) == (1, 2)
    assert V.require_choice("fit", "pad", ("crop", "pad")) == "pad"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: V.require_int("epochs", 0, minimum=1), r"^epochs must be an integer >= 1, got 0$"),
        (lambda: V.require_int("seed", 1.0, minimum=0), r"^seed must be an integer >= 0, got 1\.0$"),
        (lambda: V.require_int("q", 101, minimum=1, maximum=100), r"^q must be an integer in 1\.\.100, got 101$"),
        (lambda: V.require_int("n", 5, maximum=4), r"^n must be an integer <= 4, got 5$"),
        (lambda: V.require_int("n", "3"), r"^n must be an integer, got '3'$"),
        (lambda: V.require_positive_int("n_heads", True), r"^n_heads must be an integer >= 1, got True$"),
        (lambda: V.require_number("dropout", 1.0, 0.0, 1.0, high_open=True),
         r"^dropout must be a finite number in \[0, 1\), got 1\.0$"),
        (lambda: V.require_number("size", 0.0, 0.0, 0.5, low_open=True),
         r"^size must be a finite number in \(0, 0\.5\], got 0\.0$"),
        (lambda: V.require_number("x", -1, high=-2), r"^x must be a finite number <= -2, got -1$"),
        (lambda: V.require_number("x", 2, high=2, high_open=True), r"^x must be a finite number < 2, got 2$"),
        (lambda: V.require_positive("lr", 0), r"^lr must be a finite number > 0, got 0$"),
        (lambda: V.require_non_negative("decay", -0.1), r"^decay must be a finite number >= 0, got -0\.1$"),
        (lambda: V.require_probability("p", 1.5), r"^p must be a finite number in \[0, 1\], got 1\.5$"),
        (lambda: V.require_bool("aux", 1), r"^aux must be true or false, got 1$"),
        (lambda: V.require_ordered_pair("r", (3, 2), 0, 10), r"^r must be \(min, max\) with 0 <= min <= max <= 10, got \(3, 2\)$"),
        (lambda: V.require_choice("fit", "stretch", ("crop", "pad")), r"^fit must be one of crop, pad, got 'stretch'$"),
    ],
)
def test_errors_name_the_field_the_bounds_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), True, "0.5", None])
def test_numbers_are_finite_reals_and_not_bools(bad):
    with pytest.raises(ValueError, match="finite number"):
        V.require_number("x", bad)
    with pytest.raises(ValueError):
        V.require_probability("p", bad)


@pytest.mark.parametrize("bad", [(1,), (1, 2, 3), "ab", (0, float("nan")), (-1, 2), (1, 11), None])
def test_ordered_pairs_are_two_numbers_inside_the_bounds(bad):
    with pytest.raises(ValueError, match=r"\(min, max\)"):
        V.require_ordered_pair("r", bad, 0, 10)


def test_validation_is_a_light_module():
    """Config modules that must stay free of torch import it."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(V))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"math", "numbers", "typing", "__future__"}
