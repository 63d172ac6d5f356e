"""The ``promptcrop`` command line: the parser and dispatch (:mod:`~promptcrop.cli.main`), the
demo (:mod:`~promptcrop.cli.demo`) and the choice of engine for ``crop`` / ``batch``
(:mod:`~promptcrop.cli.engine`). Sub-commands of other front ends (``serve``, ``train``, ``eval``,
``export-onnx``) register their parsers in :data:`~promptcrop.cli.main.COMMANDS` and are imported
only when chosen.
"""

from __future__ import annotations

from promptcrop.cli.main import COMMANDS, UsageError, build_parser, cli_hint, main, positive_int, run

__all__ = ["COMMANDS", "UsageError", "build_parser", "cli_hint", "main", "positive_int", "run"]
