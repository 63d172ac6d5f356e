"""End the ``promptcrop`` process without tearing the interpreter down module by module.

After a command has returned, CPython's normal exit joins the non-daemon threads, runs the
``atexit`` handlers, then clears every module and collects their objects one by one — work that
only frees memory the operating system frees anyway, and that costs a one-photo crop a noticeable
part of its wall time (NumPy, Pillow and the LiteRT detectors are loaded; docs/BENCHMARKS.md, cold
start). :func:`exit_after_handlers` keeps everything a user can observe of a normal exit — every
thread finished, every ``atexit`` handler run, the standard streams flushed, the exit code — and
then ends the process with :func:`os._exit`.

It is armed only by the command's entry point (:func:`promptcrop.cli.main.run`), never by
:func:`promptcrop.cli.main.main` (tests and other callers keep a normal interpreter), and only
when the command returned: an exception escaping it exits the normal way, with its traceback.
What it skips besides the teardown: ``atexit`` handlers registered before the command started
(none by promptcrop's own imports; a test checks it) and the data of files left open (promptcrop
closes its files). So it stands aside when a tracer or coverage measurement runs the command, or
when ``PROMPTCROP_NO_QUICK_EXIT`` is set.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

#: Python's own exit status when flushing stdout fails at exit (a closed pipe); used only when the
#: command's own code is 0 (a failure's code is kept).
FLUSH_FAILED = 120
#: Set (to anything) to exit the normal way.
OPT_OUT = "PROMPTCROP_NO_QUICK_EXIT"

_code: int | None = None


def arm() -> None:
    """Register the quick exit as an ``atexit`` handler at the command's start, so that it runs
    after the handlers of every library the command loads (Python runs them in reverse); not
    when tracing, coverage or :data:`OPT_OUT` asks for a normal exit."""
    if sys.gettrace() is not None or "coverage" in sys.modules or os.environ.get(OPT_OUT):
        return
    atexit.register(_finish)


def exit_after_handlers(code: int) -> NoReturn:
    """Exit with ``code``: threads joined and ``atexit`` handlers run as usual (``sys.exit``),
    then the process ends at the last handler, skipping the interpreter's teardown."""
    global _code
    _code = int(code)
    sys.exit(_code)


def _finish() -> None:
    if _code is None:  # the command did not return (an exception is on its way out): exit normally
        return
    code = _code
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = code or FLUSH_FAILED
    os._exit(code)
