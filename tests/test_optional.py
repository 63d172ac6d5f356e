"""The shared helper for optional parts: skip with a reason, fail under ``CI=true``."""

from __future__ import annotations

import pytest

import optional


def test_a_missing_module_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promptcrop_no_such_module is not installed"):
        optional.require("promptcrop_no_such_module")


@pytest.mark.parametrize("value", ["true", "TRUE", " true "])
def test_a_missing_module_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        optional.require("promptcrop_no_such_module")
    with pytest.raises(pytest.fail.Exception, match="no browser"):
        optional.missing("no browser")


def test_an_installed_module_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert optional.require("json").dumps([]) == "[]"
