"""progress: a real tqdm bar only when it would be seen; lines printed either way."""

import io
import subprocess
import sys

from promptcrop.batch import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_only_when_enabled_or_on_a_terminal():
    assert isinstance(progress.bar(total=3, enabled=False), progress.NullBar)
    assert isinstance(progress.bar(total=3, enabled=None, file=io.StringIO()), progress.NullBar)
    screen = _Terminal()
    with progress.bar(total=3, enabled=None, file=screen, unit="img") as shown:
        shown.update(3)
    assert "3/3" in screen.getvalue() and "img" in screen.getvalue()
    forced = io.StringIO()
    with progress.bar(total=2, enabled=True, file=forced) as shown:
        shown.update(2)
    assert "2/2" in forced.getvalue()
    with progress.bar(total=2, enabled=False) as hidden:
        hidden.update(2)


def test_write_prints_a_line_with_or_without_tqdm_and_a_hidden_bar_never_imports_it():
    out = io.StringIO()
    progress.write("one line", file=out)
    assert out.getvalue() == "one line\n"
    code = (
        "import sys\n"
        "from promptcrop.batch import progress\n"
        "with progress.bar(total=1, enabled=None) as b:\n"
        "    b.update(1)\n"
        "progress.write('done')\n"
        "print('tqdm' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["done", "False"]


def test_stderr_on_a_terminal_gets_a_bar_even_while_a_detectors_build_holds_it_back():
    # A detector's build (another thread) points descriptor 2 at a temporary file for a moment;
    # the bar asks about the real stderr, after that moment.
    code = (
        "import os, sys, threading, time\n"
        "master, slave = os.openpty()\n"
        "os.dup2(slave, 2)\n"
        "from promptcrop.batch import progress\n"
        "from promptcrop.saliency.litert_c import quiet_stderr\n"
        "started = threading.Event()\n"
        "def build():\n"
        "    with quiet_stderr():\n"
        "        started.set()\n"
        "        time.sleep(0.3)\n"
        "thread = threading.Thread(target=build)\n"
        "thread.start()\n"
        "started.wait()\n"
        "print(type(progress.bar(total=1, enabled=None)).__name__)\n"
        "thread.join()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": __import__("os").pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tqdm"
