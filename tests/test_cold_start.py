"""Smoke test of ``benchmarks/cold_start.py``: it times every command in fresh processes and
keeps its machine-readable last line (the figures themselves are for the benchmark run)."""

from __future__ import annotations

import re

import pytest

from paths import benchmark_module


@pytest.fixture(scope="module")
def cold_start():
    with benchmark_module("cold_start") as module:
        yield module


def test_it_times_every_command_and_ends_with_the_result_line(cold_start, capsys):
    cold_start.main(["--runs", "5", "--photo", "chelsea", "--width", "120"])
    lines = capsys.readouterr().out.strip().splitlines()
    for name in ("help", "offline_crop", "smartcroppy"):
        assert any(line.startswith(f"{name} ") and "median" in line for line in lines), name
    assert any(line.startswith("cpu: ") for line in lines)  # time ratios depend on the instruction sets
    offline_row = next(line.split() for line in lines if line.strip().startswith("offline_crop") and "median" not in line)
    header = next(line.split() for line in lines if line.strip().startswith("command"))
    assert float(offline_row[header.index("torch")]) == 0.0 and float(offline_row[header.index("numpy")]) > 0.0
    match = re.fullmatch(
        r"RESULT help_s=(\S+) offline_crop_s=(\S+) smartcroppy_s=(\S+) ratio=(\S+)", lines[-1]
    )
    assert match, lines[-1]
    help_s, crop_s, smart_s, ratio = map(float, match.groups())
    assert ratio == pytest.approx(crop_s / smart_s, rel=0.02) and help_s > 0  # the figures are rounded


def test_bad_arguments_are_refused(cold_start):
    for argv in (["--runs", "4"], ["--photo", "no_such_photo"], ["--width", "0"]):
        with pytest.raises(SystemExit) as stop:
            cold_start.main(argv)
        assert stop.value.code == 2
