"""The ``promptcrop`` command: ``crop``, ``batch``, ``demo`` and ``download`` (here), ``train``,
``finetune-encoder`` (:mod:`promptcrop.train.commands`), ``eval`` (:mod:`promptcrop.eval.commands`)
``serve`` (:mod:`promptcrop.serve.commands`) and ``reframe`` (:mod:`promptcrop.reframe.command`).

The command line starts fast: only the chosen sub-command's parser is built (:data:`COMMANDS`,
:func:`build_parser`), and the modules a command needs are imported when it runs, so ``--help``
and usage errors import no model code and an ``--offline`` crop imports neither torch nor
transformers.

``main(argv)`` runs a command (also callable from tests) and returns the exit code; ``run()``, the
console script, exits with it (quickly: :mod:`promptcrop.cli.quick_exit`). The code is
0 when every input succeeded, 1 when some failed (the others were done) or the run could not
start, 2 for a usage error. Errors are one line on stderr, ``promptcrop: error: <message>``;
``--verbose`` adds tracebacks of unexpected errors, never of bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from promptcrop import __version__
from promptcrop.cli.options import add_device_option, add_model_option, add_predictor_options, predictor_options
from promptcrop.errors import (
    ImageLoadError,
    InternalError,
    ModelUnavailableError,
    PromptcropError,
    RequestError,
    is_user_error,
)
from promptcrop.extras import missing_extra
from promptcrop.options import weight_free

if TYPE_CHECKING:  # the modules behind the commands are imported when a command runs
    from promptcrop.batch import BatchSummary, Job, JobError, RunOptions
    from promptcrop.predictor import Predictor

DEFAULT_CROP_DIR = "promptcrop-out"
VERBOSE_HINT = "rerun with --verbose for details"
DEFAULT_DEMO_DIR = "promptcrop-demo"


class UsageError(Exception):
    """A bad option value found after parsing: reported like an argparse error (exit 2)."""


# --------------------------------------------------------------------------- argument parsing


def positive_int(text: str) -> int:
    """An integer ≥ 1 (argparse type, shared by the sub-commands)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_crop_options(p: argparse.ArgumentParser, default_out: str | None) -> None:
    query = p.add_mutually_exclusive_group()
    query.add_argument("-q", "--query", metavar="TEXT", help="what to keep, in words")
    query.add_argument("--query-image", metavar="PATH", help="an example image of what to keep")
    p.add_argument("-a", "--aspect", action="append", default=[], metavar="W:H",
                   help="aspect ratio, repeatable (default: the image's own ratio)")
    p.add_argument("--size", metavar="WxH", help="exact output size in pixels (instead of --aspect)")
    p.add_argument("-k", type=positive_int, default=5, metavar="N", help="crops per ratio (default 5)")
    p.add_argument("--fit", choices=("crop", "pad"), default="crop",
                   help="pad: letterbox when the region does not fit the ratio (default crop)")
    p.add_argument("--focus", action="append", default=[], metavar="x1,y1,x2,y2",
                   help="pixel box to keep, repeatable")
    p.add_argument("--avoid", action="append", default=[], metavar="x1,y1,x2,y2",
                   help="pixel box to leave out when possible, repeatable")
    p.add_argument("--exclude", action="append", default=[], metavar="TEXT",
                   help="what to leave out, in words (found by OWL-ViT; needs the weights), repeatable")
    p.add_argument("-o", "--output", required=default_out is None, default=default_out, metavar="DIR",
                   help="output folder" + (f" (default ./{default_out}/)" if default_out else ""))
    p.add_argument("--overlay", action="store_true", help="also write <stem>.overlay.png")
    p.add_argument("--json", action="store_true", help="print one JSON record per input on stdout")
    p.add_argument("--explain", action="store_true", help="add each crop's score breakdown")
    add_predictor_options(p, count=positive_int, offline_help="never use the network: weight-free mode without a "
                          "query, cached weights with one")
    p.add_argument("--prefetch", type=positive_int, default=4, metavar="N",
                   help="images decoded ahead of the model (default 4)")
    _add_common(p)


def _add_crop_parser(sub: Any) -> argparse.ArgumentParser:
    crop = sub.add_parser("crop", help=COMMANDS["crop"][0],
                          description="Crop images; outputs go to ./promptcrop-out/ unless -o is given.")
    crop.add_argument("images", nargs="+", metavar="IMAGE")
    _add_crop_options(crop, DEFAULT_CROP_DIR)
    crop.set_defaults(handler=_cmd_crop, parser=crop)
    return crop


def _add_batch_parser(sub: Any) -> argparse.ArgumentParser:
    batch = sub.add_parser("batch", help=COMMANDS["batch"][0],
                           description="Crop every image of a folder (recursive) or a .jsonl/.csv/.parquet "
                                       "manifest (image, optional query, aspect and exclude per row).")
    batch.add_argument("input", metavar="INPUT")
    batch.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs are complete")
    _add_crop_options(batch, None)
    from promptcrop.cli.engine import add_engine_options  # imports no Ray

    add_engine_options(batch, positive_int)
    batch.set_defaults(handler=_cmd_batch, parser=batch)
    return batch


def _add_demo_parser(sub: Any) -> argparse.ArgumentParser:
    demo = sub.add_parser("demo", help=COMMANDS["demo"][0],
                          description="Crop the scikit-image sample photos offline at 1:1, 4:5 and "
                                      "16:9, plus text-query crops when OWL-ViT weights are cached.")
    demo.add_argument("-o", "--output", default=DEFAULT_DEMO_DIR, metavar="DIR",
                      help=f"output folder (default ./{DEFAULT_DEMO_DIR}/)")
    demo.add_argument("-k", type=positive_int, default=3, metavar="N", help="crops per ratio (default 3)")
    demo.add_argument("--overwrite", action="store_true", help="redo photos already cropped")
    add_model_option(demo)
    add_device_option(demo)
    _add_common(demo)
    demo.set_defaults(handler=_cmd_demo, parser=demo)
    return demo


def _add_download_parser(sub: Any) -> argparse.ArgumentParser:
    from promptcrop.config import DEFAULT_MODEL_ID

    download = sub.add_parser("download", help=COMMANDS["download"][0],
                              description="Download OWL-ViT weights into the Hugging Face cache.")
    download.add_argument("model", nargs="?", default=DEFAULT_MODEL_ID, metavar="MODEL",
                          help=f"hub id (default {DEFAULT_MODEL_ID})")
    _add_common(download)
    download.set_defaults(handler=_cmd_download, parser=download)
    return download


ParserBuilder = Callable[[Any], argparse.ArgumentParser]

#: Every sub-command, in the order ``promptcrop --help`` lists them: its one-line help and what adds
#: its sub-parser (options, ``handler`` and ``parser`` defaults) to ``add_subparsers()`` — a function
#: here, or ``"module:function"`` for a command whose module is imported only when it is chosen.
#: The one-line help of those must be the one their module gives (a test compares them).
COMMANDS: dict[str, tuple[str, ParserBuilder | str]] = {
    "crop": ("crop one or more images", _add_crop_parser),
    "batch": ("crop a folder or a manifest, resumably", _add_batch_parser),
    "demo": ("crop the bundled sample photos", _add_demo_parser),
    "download": ("fetch OWL-ViT weights for offline use", _add_download_parser),
    "train": ("train the ClipCrop decoder on GAIC-format data", "promptcrop.train.commands:add_train_parser"),
    "finetune-encoder": ("fine-tune OWL-ViT's grounding on phrase-box data",
                         "promptcrop.train.commands:add_finetune_parser"),
    "eval": ("evaluate cropping methods on GAIC or a caption-crop set", "promptcrop.eval.commands:add_eval_parser"),
    "serve": ("run the HTTP API and the web page", "promptcrop.serve.commands:add_serve_parser"),
    "sign-url": ("print a signed crop URL for promptcrop serve --source",
                 "promptcrop.serve.url.commands:add_sign_url_parser"),
    "export-onnx": ("export OWL-ViT (and a decoder) to ONNX for the onnx backend",
                    "promptcrop.backends.commands:add_export_parser"),
    "reframe": ("reframe videos to other ratios, following a subject", "promptcrop.reframe.command:add_reframe_parser"),
}


def build_parser(complete: Collection[str] | None = None, *, list_all: bool = True) -> argparse.ArgumentParser:
    """The ``promptcrop`` argument parser (one sub-command per job).

    ``complete``: the sub-commands that get their options and handler (default: all of them);
    the others are only listed (``list_all``, the default) or left out, so that building the
    parser imports nothing they need. argparse only ever reads the sub-parser that the command
    line names, so ``main`` completes just that one: ``promptcrop --help`` and usage errors then
    import no model code; and a command line that starts with a sub-command (no top-level option
    before it to print the list) gets a parser without the others.
    """
    parser = argparse.ArgumentParser(
        prog="promptcrop",
        description="Conditioned image cropping (ClipCrop): keep what a text or image query names.",
    )
    parser.add_argument("--version", action="version", version=f"promptcrop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_line, builder) in COMMANDS.items():
        if complete is not None and name not in complete:
            if list_all:
                sub.add_parser(name, help=help_line)
        elif isinstance(builder, str):
            module, function = builder.split(":")
            getattr(importlib.import_module(module), function)(sub)
        else:
            builder(sub)
    return parser


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The sub-command a command line names: its first argument that is not an option (the
    top-level options, ``-h`` and ``--version``, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


# --------------------------------------------------------------------------- commands


def _options(args: argparse.Namespace, *, overwrite: bool) -> RunOptions:
    from promptcrop.batch import RunOptions
    from promptcrop.request import CropRequest, parse_boxes

    try:
        request = CropRequest.build(
            k=args.k, aspect=list(args.aspect) or None, size=args.size, fit=args.fit,
            focus=parse_boxes("focus", args.focus), avoid=parse_boxes("avoid", args.avoid),
            exclude=list(args.exclude),
        )
        return RunOptions(
            request=request, query=args.query, query_image=args.query_image, overlay=args.overlay,
            explain=args.explain, overwrite=overwrite, prefetch=args.prefetch,
        )
    except RequestError as exc:
        raise UsageError(str(exc)) from None


def _queried(args: argparse.Namespace, jobs: Sequence[Job]) -> bool:
    """Whether any input is cropped for a text or image query."""
    return args.query is not None or args.query_image is not None or any(j.query for j in jobs)


def _excluded(args: argparse.Namespace, jobs: Sequence[Job]) -> bool:
    """Whether any input has something to leave out (``--exclude`` or a manifest's ``exclude``)."""
    return bool(args.exclude) or any(j.exclude for j in jobs)


def _weight_free(args: argparse.Namespace) -> bool:
    """Whether ``crop``'s options already say the weight-free offline mode (its inputs are files:
    queries and excludes come only from the options)."""
    return weight_free(offline=args.offline, decoder=args.decoder,
                       conditioned=_queried(args, ()) or _excluded(args, ()))


def _predictor(args: argparse.Namespace, jobs: Sequence[Job]) -> Predictor:
    """The predictor for the options (the ``--offline`` rule lives in :meth:`Predictor.from_options`)."""
    from promptcrop.predictor import Predictor
    from promptcrop.request import EXCLUDE_NEEDS_WEIGHTS

    queried, excluded = _queried(args, jobs), _excluded(args, jobs)
    try:
        return Predictor.from_options(predictor_options(args), conditioned=queried or excluded)
    except RequestError as exc:
        raise UsageError(str(exc)) from None
    except ModelUnavailableError as exc:
        if queried or not excluded:
            raise
        raise ModelUnavailableError(
            f"{EXCLUDE_NEEDS_WEIGHTS}, and they cannot be loaded here ({args.model}; "
            "`promptcrop download` fetches them once while online)"
        ) from exc


def _run(args: argparse.Namespace, jobs: list[Job], bad_rows: Sequence[JobError], *, overwrite: bool,
         per_input_lines: bool) -> int:
    from promptcrop.batch.progress import write as write_line
    from promptcrop.cli.engine import run_engine

    options = _options(args, overwrite=overwrite)
    if not jobs and not bad_rows:
        raise PromptcropError(f"{args.input}: no image files found")
    predictor = _predictor(args, jobs)

    def on_record(job: Job, record: dict[str, Any], skipped: bool) -> None:
        if args.json:
            write_line(json.dumps(record, ensure_ascii=False))
        elif per_input_lines:
            state = "already done" if skipped else f"{len(record['crops'])} crops ({record['mode']})"
            write_line(f"{job.source}: {state} -> {Path(args.output) / (job.key + '.json')}")

    summary = run_engine(args, jobs, bad_rows, predictor, options, on_record=on_record,
                         conditioned=_queried(args, jobs) or _excluded(args, jobs), hint=cli_hint)
    _print_summary(summary, to_stderr=args.json)
    return summary.exit_code


def _print_summary(summary: BatchSummary, *, to_stderr: bool) -> None:
    print(summary.line(), file=sys.stderr if to_stderr else sys.stdout, flush=True)


def _cmd_crop(args: argparse.Namespace) -> int:
    if _weight_free(args):  # the detectors compile on the other core while the rest is imported
        from promptcrop.saliency.litert_c import prebuild_detectors

        prebuild_detectors()
    from promptcrop.batch import jobs_from_paths

    args.input = " ".join(args.images)
    return _run(args, jobs_from_paths(args.images), (), overwrite=True, per_input_lines=True)


def _cmd_batch(args: argparse.Namespace) -> int:
    from promptcrop.batch import MANIFEST_SUFFIXES, is_parquet_folder, jobs_from_folder, jobs_from_manifest
    from promptcrop.cli.engine import check_engine_options

    try:
        check_engine_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    source = Path(args.input)
    if is_parquet_folder(source) or (source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES):
        jobs, bad_rows = jobs_from_manifest(source)
    elif source.is_dir():
        jobs, bad_rows = jobs_from_folder(source, args.output), []
    elif source.suffix.lower() in MANIFEST_SUFFIXES:
        jobs, bad_rows = jobs_from_manifest(source)
    elif source.exists():
        raise UsageError(f"{args.input}: INPUT must be a folder or a .jsonl / .csv / .parquet manifest")
    else:
        raise PromptcropError(f"{args.input}: no such folder or manifest")
    return _run(args, jobs, bad_rows, overwrite=args.overwrite, per_input_lines=False)


def _cmd_demo(args: argparse.Namespace) -> int:
    from promptcrop.cli.demo import run_demo

    return run_demo(
        args.output, model=args.model, device=args.device, k=args.k, overwrite=args.overwrite,
        progress=False if args.quiet else None, verbose=args.verbose,
    )


def _cmd_download(args: argparse.Namespace) -> int:
    import huggingface_hub.constants

    from promptcrop.model.encoder import OwlViTEncoder

    if Path(args.model).expanduser().is_dir():
        OwlViTEncoder.from_pretrained(args.model, local_files_only=True)
        print(f"{args.model} is a local OWL-ViT directory: nothing to download (use --model {args.model})")
        return 0
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ModelUnavailableError(
            f"cannot download {args.model}: the Hugging Face Hub is switched off here "
            "(HF_HUB_OFFLINE is set); unset it and run again while online"
        )
    try:
        OwlViTEncoder.from_pretrained(args.model, local_files_only=False)
    except ModelUnavailableError:
        raise ModelUnavailableError(
            f"cannot download {args.model}: the Hugging Face Hub is unreachable or has no such model; "
            "check the name and the network connection"
        ) from None
    print(f"{args.model} is in the Hugging Face cache ({huggingface_hub.constants.HF_HUB_CACHE}); "
          "text queries now work with --offline")
    return 0


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the ``promptcrop`` command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _chosen_command(argv)
    try:
        chosen = {command} & set(COMMANDS)
        parser = build_parser(complete=chosen, list_all=not (chosen and argv[0] == command))
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help / --version (0)
        return exc.code if isinstance(exc.code, int) else 2
    except ModuleNotFoundError as exc:
        return _missing_extra(exc, command)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            return int(args.handler(args))
    except ModuleNotFoundError as exc:
        if args.verbose:
            traceback.print_exc()
        return _missing_extra(exc, command)
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        return _error(f"{exc}", code=2)
    except InternalError as exc:
        if args.verbose:
            traceback.print_exc()
        return _error(f"internal error ({exc}); {VERBOSE_HINT}", code=1)
    except (PromptcropError, ValueError, OSError) as exc:
        if args.verbose:
            traceback.print_exc()
        return _error(f"{exc or type(exc).__name__}{cli_hint(exc)}", code=1)
    except KeyboardInterrupt:
        return _error("interrupted", code=130)


def run() -> NoReturn:
    """The ``promptcrop`` console script and ``python -m promptcrop.cli``: :func:`main` on
    ``sys.argv`` with NumPy's BLAS on one thread (:func:`one_blas_thread`), then the process exits
    with its code without the interpreter's teardown (:mod:`promptcrop.cli.quick_exit`)."""
    from promptcrop.cli import quick_exit

    one_blas_thread()
    quick_exit.arm()
    quick_exit.exit_after_handlers(main())


def one_blas_thread() -> None:
    """Ask NumPy's OpenBLAS for one thread (``OPENBLAS_NUM_THREADS=1``) unless the user set it.

    OpenBLAS starts a worker per core when NumPy is imported, and each spins for about 0.1 s
    waiting for work. The commands' NumPy work is small arrays, and their parallelism is their
    own threads (detectors, decoding) and PyTorch's, so the workers would only take a core from
    them: 0.1 s of CPU on every start (docs/BENCHMARKS.md, cold start). Effective only before
    NumPy is imported, which no command does before it runs.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def cli_hint(exc: BaseException) -> str:
    """The command-line option that fixes ``exc``, as a suffix for its message ('' if none)."""
    if isinstance(exc, ImageLoadError) and exc.kind == "too_large":
        return " (raise --max-pixels)"
    if not (is_user_error(exc) or isinstance(exc, OSError)):
        return f"; {VERBOSE_HINT}"
    return ""


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A warning as one line on stderr (``promptcrop: warning: ...``), not Python's two."""
    print(f"promptcrop: warning: {message}", file=sys.stderr, flush=True)


def _missing_extra(exc: ModuleNotFoundError, command: str | None) -> int:
    """One line naming the extra a sub-command needs (a module no extra provides is a bug: raised)."""
    missing = missing_extra(exc, f"promptcrop {command} needs")
    if missing is None:
        raise exc
    return _error(str(missing), code=1)


def _error(message: str, *, code: int) -> int:
    print(f"promptcrop: error: {message}", file=sys.stderr, flush=True)
    return code
