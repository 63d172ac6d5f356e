"""The command's quick exit keeps what a normal exit gives the user: every thread finished, every
``atexit`` handler run, the standard streams flushed in full, the exit code; an exception
escaping the command still exits the normal way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

#: A module-level object that says so when the interpreter tears the module down.
TEARDOWN_PROBE = """
class Probe:
    def __del__(self):
        os.write(1, b"torn down\\n")
probe = Probe()
"""


def _run(body: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = ("import os\nfrom promptcrop.cli import quick_exit\nquick_exit.arm()\n" + TEARDOWN_PROBE
            + textwrap.dedent(body))
    # unbuffered streams would hide a missing flush
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PROMPTCROP_NO_QUICK_EXIT")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**clean, **env})


def test_threads_handlers_and_streams_finish_before_the_process_ends_with_its_code():
    done = _run("""
        import atexit, sys, threading, time

        def late():
            time.sleep(0.3)
            print("thread finished")

        threading.Thread(target=late).start()
        atexit.register(lambda: print("handler ran"))  # registered after arm(): runs before the quick exit
        sys.stdout.write("x" * 200_000 + "\\n")  # more than a pipe's buffer
        sys.stderr.write("on stderr")
        quick_exit.exit_after_handlers(3)
    """)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "x" * 200_000
    assert lines[1:] == ["thread finished", "handler ran"]  # and no "torn down": the teardown was skipped
    assert done.stderr == "on stderr"


def test_the_opt_out_exits_the_normal_way():
    done = _run("""
        import sys
        quick_exit.exit_after_handlers(4)
    """, PROMPTCROP_NO_QUICK_EXIT="1")
    assert done.returncode == 4 and done.stdout.splitlines() == ["torn down"]


def test_an_exception_escaping_the_command_exits_the_normal_way():
    done = _run("""
        raise RuntimeError("a bug")
    """)
    assert done.returncode == 1
    assert "RuntimeError: a bug" in done.stderr


def test_the_command_line_entry_point_exits_with_the_commands_code(tmp_path):
    usage = subprocess.run([sys.executable, "-m", "promptcrop.cli", "crop", "x.jpg", "-k", "0"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert usage.returncode == 2 and "promptcrop crop: error:" in usage.stderr
    assert subprocess.run([sys.executable, "-m", "promptcrop.cli", "--version"], capture_output=True, text=True,
                          timeout=60).returncode == 0


def test_the_console_script_asks_numpys_blas_for_one_thread(monkeypatch):
    """run() sets OPENBLAS_NUM_THREADS=1 before the command runs; a user's setting wins."""
    import importlib

    from promptcrop.cli import quick_exit

    cli_main = importlib.import_module("promptcrop.cli.main")  # the module (the package exports its main())

    seen = []
    monkeypatch.setattr(cli_main, "main", lambda: seen.append(os.environ.get("OPENBLAS_NUM_THREADS")) or 0)
    monkeypatch.setattr(quick_exit, "arm", lambda: None)
    monkeypatch.setattr(quick_exit, "exit_after_handlers", lambda code: seen.append(code))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    cli_main.run()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    cli_main.run()
    assert seen == ["1", 0, "2", 0]


def test_one_blas_thread_leaves_numpy_without_a_blas_worker():
    """Set before NumPy is imported (nothing the console script imports first imports NumPy), the
    setting leaves OpenBLAS no worker thread to spin beside the command's own threads."""
    import numpy as np

    if not os.path.isdir("/proc/self/task") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("counts the process's threads on Linux with at least two CPUs")
    if "openblas" not in str(np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})).lower():
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    probe = ("import os, sys\nfrom promptcrop.cli.main import one_blas_thread\none_blas_thread()\n"
             "assert 'numpy' not in sys.modules\n"
             "import numpy\nprint(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["1", "1"], out.stderr  # one thread in the process: no BLAS worker
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    setting, threads = out.stdout.split()
    assert setting == "2" and int(threads) > 1, out.stderr  # the same probe does see a worker
