"""``benchmarks/machine.py``: the CPU line printed beside every time figure."""

from __future__ import annotations

import pytest

from paths import benchmark_module


@pytest.fixture(scope="module")
def machine():
    with benchmark_module("machine") as module:
        yield module


def test_the_line_names_the_model_and_which_speed_flags_it_has_and_lacks(machine, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse avx2 fma avx512f\n\n"
                       "processor\t: 1\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse avx2 fma avx512f\n")
    line = machine.cpu_line(cpuinfo)
    assert line.startswith("cpu: Some CPU 9000, ")
    assert "; with avx2 fma avx512f; without avx512_vnni avx_vnni amx_int8" in line


def test_without_cpuinfo_the_sets_are_unknown_and_a_cpu_lacking_them_all_says_so(machine, tmp_path):
    assert machine.cpu_line(tmp_path / "missing").endswith("; instruction sets unknown")
    bare = tmp_path / "bare"
    bare.write_text("model name : Old CPU\nflags : fpu sse sse2\n")
    assert machine.cpu_line(bare).endswith(" CPUs; without avx2 fma avx512f avx512_vnni avx_vnni amx_int8")
