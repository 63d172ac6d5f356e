"""Progress bars (tqdm) for the batch runner, with tqdm imported only when a bar is shown.

Importing tqdm and opening a first bar take about a fifth of a one-photo ``promptcrop crop
--offline`` (tqdm reads its package metadata and sets up a multiprocessing lock), and a command
run from a script or a pipe never shows a bar. :func:`bar` returns a real tqdm bar only when it
would be visible, else a :class:`NullBar`; :func:`write` prints a line without breaking a bar
that may be on screen.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class Bar(Protocol):
    """What the runner uses of a bar: a context manager with ``update(n)``."""

    def update(self, n: float = 1) -> Any: ...

    def __enter__(self) -> Bar: ...

    def __exit__(self, *exc: object) -> Any: ...


class NullBar:
    """A bar that shows nothing."""

    def update(self, n: float = 1) -> None:
        """Count ``n`` more items (nothing to show)."""

    def __enter__(self) -> NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def bar(*, total: int, enabled: bool | None, file: TextIO | None = None, **options: Any) -> Bar:
    """A progress bar of ``total`` items on ``file`` (default stderr).

    ``enabled``: True / False, or None for "only when ``file`` is a terminal" (tqdm's
    ``disable=None``). ``options`` go to ``tqdm`` (``unit``, ``dynamic_ncols``...).
    """
    file = sys.stderr if file is None else file
    if enabled is None:  # asked once no detector's build holds stderr back
        from promptcrop.saliency.litert_c import is_terminal

        enabled = is_terminal(file)
    if not enabled:
        return NullBar()
    from tqdm import tqdm

    return tqdm(total=total, file=file, **options)


def write(text: str, file: TextIO | None = None) -> None:
    """Print one line on ``file`` (default stdout); through ``tqdm.write`` once tqdm is loaded,
    so that a bar on screen is moved out of the way instead of being overwritten."""
    file = sys.stdout if file is None else file
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is not None:
        tqdm_module.tqdm.write(text, file=file)
    else:
        print(text, file=file, flush=True)
