"""``promptcrop eval``: argument parsing and the command (registered by :mod:`promptcrop.cli`).

::

    promptcrop eval --dataset gaic|captions --root DIR [--split test] [--text-labels DIR]
                    [--methods NAME ...] [--model ID|DIR] [--decoder DIR|ID] [--paper TABLE]
                    [--out DIR] [--limit N] [--device cpu|cuda] [--offline] [--quiet]

Prints the Markdown table on stdout, the progress bar on stderr, and with ``--out`` writes
``results.json`` (per-method aggregates and per-sample results, deterministic), ``results.md`` and
``timings.json`` (see :mod:`promptcrop.eval.report`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from promptcrop.cli.options import add_predictor_options, predictor_options
from promptcrop.eval.methods import METHOD_NAMES, METHODS
from promptcrop.eval.report import PAPER_TABLES, check_paper, render_markdown, write_report
from promptcrop.eval.runner import DATASET_KINDS, EvalConfig, run_evaluation


def _methods_help() -> str:
    text = "methods to compare, in any order (default: all): " + "; ".join(
        f"{m.name} = {m.description}" for m in METHODS
    )
    return text.replace("%", "%%")  # argparse %-formats help strings


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to ``subparsers`` (from ``add_subparsers``); its handler is
    :func:`run_eval` (``args.handler``), and ``args.parser`` is the sub-parser."""
    p = subparsers.add_parser(
        "eval", help="evaluate cropping methods on GAIC or a caption-crop set",
        description="Run the compared methods over a data set and print a table laid out like the "
                    "paper's Tables 1-4 (IoU-Mean/Max for caption sets, Acc1/5, Acc1/10, Acc-bar5, "
                    "Acc-bar10 for GAIC).",
    )
    p.add_argument("--dataset", required=True, choices=DATASET_KINDS,
                   help="gaic: GAIC layout (images/, annotations/); captions: caption-crop JSON")
    p.add_argument("--root", required=True, metavar="DIR",
                   help="gaic: folder with images/ and annotations/; captions: a caption-set JSON "
                        "file or a folder holding captions/<split>.json")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="default test")
    p.add_argument("--text-labels", metavar="DIR|FILE",
                   help="gaic only: caption folder ({train,valid,test}.json) or file; the caption is "
                        "the query of the conditioned methods (without it they are skipped)")
    p.add_argument("--methods", nargs="+", choices=METHOD_NAMES, metavar="NAME", help=_methods_help())
    add_predictor_options(p, offline_help="never download weights (local/cached only)")
    p.add_argument("--paper", choices=tuple(PAPER_TABLES), metavar="TABLE",
                   help=f"print the paper's numbers beside ours ({', '.join(PAPER_TABLES)}); "
                        "only for the real data sets")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N samples")
    p.add_argument("--out", metavar="DIR", help="write results.json, results.md and timings.json here")
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_eval, parser=p)
    return p


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The :class:`EvalConfig` the parsed arguments describe (ValueError for bad combinations)."""
    return EvalConfig(
        dataset=args.dataset, root=args.root, split=args.split, text_labels=args.text_labels,
        methods=tuple(args.methods) if args.methods else METHOD_NAMES, predictor=predictor_options(args),
        limit=args.limit,
    )


def run_eval(args: argparse.Namespace) -> int:
    """Run ``promptcrop eval``. Returns 0, or 1 when a method failed on some samples (they are
    scored 0 and listed in the report). Bad data sets and options raise
    :class:`~promptcrop.errors.PromptcropError` / ``ValueError`` for the CLI to print."""
    config = config_from_args(args)
    check_paper(args.paper, config.dataset)  # before the run, not after it
    results = run_evaluation(config, progress=not args.quiet)
    if args.out:
        files = write_report(results, args.out, args.paper)
        print(files.results_md.read_text(encoding="utf-8"), end="")
        print(f"results: {files.results_json}", file=sys.stderr)
    else:
        print(render_markdown(results, args.paper), end="")
    return 1 if any(m.errors for m in results.methods) else 0
