"""The ``promptcrop`` command: ``crop``, ``batch``, ``demo`` and ``download``.

``main(argv)`` is the entry point (also callable from tests); it returns the exit code:
0 when every input succeeded, 1 when some failed (the others were done) or the run could not
start, 2 for a usage error. Errors are one line on stderr, ``promptcrop: error: <message>``;
``--verbose`` adds tracebacks of unexpected errors, never of bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from promptcrop import __version__
from promptcrop.backends.commands import add_backend_options, add_export_parser, backend_kwargs
from promptcrop.batch import (
    MANIFEST_SUFFIXES,
    BatchSummary,
    Job,
    JobError,
    RunOptions,
    jobs_from_folder,
    jobs_from_manifest,
    jobs_from_paths,
    run_jobs,
)
from promptcrop.errors import (
    ImageLoadError,
    InternalError,
    ModelUnavailableError,
    PromptcropError,
    RequestError,
    is_user_error,
)
from promptcrop.images import DEFAULT_MAX_PIXELS
from promptcrop.predictor import DEFAULT_MODEL, CropRequest, Predictor

DEFAULT_CROP_DIR = "promptcrop-out"
VERBOSE_HINT = "rerun with --verbose for details"
DEFAULT_DEMO_DIR = "promptcrop-demo"


class UsageError(Exception):
    """A bad option value found after parsing: reported like an argparse error (exit 2)."""


# --------------------------------------------------------------------------- argument parsing


def _box(text: str) -> tuple[float, float, float, float]:
    """``x1,y1,x2,y2`` in pixels → a 4-tuple (argparse type)."""
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not (values[2] > values[0] and values[3] > values[1]):
        raise argparse.ArgumentTypeError(
            f"invalid box {text!r}: expected x1,y1,x2,y2 in pixels with x2 > x1 and y2 > y1"
        )
    return values  # type: ignore[return-value]


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


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="ID|DIR",
                   help=f"OWL-ViT hub id or local directory (default {DEFAULT_MODEL})")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")


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
    p.add_argument("--focus", type=_box, action="append", default=[], metavar="x1,y1,x2,y2",
                   help="pixel box to keep, repeatable")
    p.add_argument("--avoid", type=_box, action="append", default=[], metavar="x1,y1,x2,y2",
                   help="pixel box to leave out when possible, repeatable")
    p.add_argument("-o", "--output", required=default_out is None, default=default_out, metavar="DIR",
                   help="output folder" + (f" (default ./{default_out}/)" if default_out else ""))
    p.add_argument("--overlay", action="store_true", help="also write <stem>.overlay.png")
    p.add_argument("--json", action="store_true", help="print one JSON record per input on stdout")
    p.add_argument("--explain", action="store_true", help="add each crop's score breakdown")
    _add_model_options(p)
    add_backend_options(p)
    p.add_argument("--decoder", metavar="DIR|ID", help="trained ClipCrop decoder checkpoint (clipcrop mode)")
    p.add_argument("--offline", action="store_true",
                   help="never use the network: weight-free mode without a query, cached weights with one")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images above N pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--prefetch", type=positive_int, default=4, metavar="N",
                   help="images decoded ahead of the model (default 4)")
    _add_common(p)


def build_parser() -> argparse.ArgumentParser:
    """The ``promptcrop`` argument parser (one sub-command per job)."""
    parser = argparse.ArgumentParser(
        prog="promptcrop",
        description="Conditioned image cropping (ClipCrop): keep what a text or image query names.",
    )
    parser.add_argument("--version", action="version", version=f"promptcrop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crop = sub.add_parser("crop", help="crop one or more images",
                          description="Crop images; outputs go to ./promptcrop-out/ unless -o is given.")
    crop.add_argument("images", nargs="+", metavar="IMAGE")
    _add_crop_options(crop, DEFAULT_CROP_DIR)
    crop.set_defaults(handler=_cmd_crop, parser=crop)

    batch = sub.add_parser("batch", help="crop a folder or a manifest, resumably",
                           description="Crop every image of a folder (recursive) or a .jsonl/.csv "
                                       "manifest (image, optional query and aspect per row).")
    batch.add_argument("input", metavar="INPUT")
    batch.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs are complete")
    _add_crop_options(batch, None)
    batch.set_defaults(handler=_cmd_batch, parser=batch)

    demo = sub.add_parser("demo", help="crop the bundled sample photos",
                          description="Crop the scikit-image sample photos offline at 1:1, 4:5 and "
                                      "16:9, plus text-query crops when OWL-ViT weights are cached.")
    demo.add_argument("-o", "--output", default=DEFAULT_DEMO_DIR, metavar="DIR",
                      help=f"output folder (default ./{DEFAULT_DEMO_DIR}/)")
    demo.add_argument("-k", type=positive_int, default=3, metavar="N", help="crops per ratio (default 3)")
    demo.add_argument("--overwrite", action="store_true", help="redo photos already cropped")
    _add_model_options(demo)
    _add_common(demo)
    demo.set_defaults(handler=_cmd_demo, parser=demo)

    download = sub.add_parser("download", help="fetch OWL-ViT weights for offline use",
                              description="Download OWL-ViT weights into the Hugging Face cache.")
    download.add_argument("model", nargs="?", default=DEFAULT_MODEL, metavar="MODEL",
                          help=f"hub id (default {DEFAULT_MODEL})")
    _add_common(download)
    download.set_defaults(handler=_cmd_download, parser=download)

    from promptcrop.eval.commands import add_eval_parser
    from promptcrop.train.commands import add_finetune_parser, add_train_parser

    add_train_parser(sub)
    add_finetune_parser(sub)
    add_eval_parser(sub)
    add_export_parser(sub)
    return parser


# --------------------------------------------------------------------------- commands


def _options(args: argparse.Namespace, *, overwrite: bool) -> RunOptions:
    if args.aspect and args.size:
        raise UsageError("give either --aspect or --size, not both")
    try:
        request = CropRequest.build(
            k=args.k, aspect=list(args.aspect) or None, size=args.size, fit=args.fit,
            focus=list(args.focus), avoid=list(args.avoid),
        )
        return RunOptions(
            request=request, query=args.query, query_image=args.query_image, overlay=args.overlay,
            explain=args.explain, overwrite=overwrite, prefetch=args.prefetch,
        )
    except RequestError as exc:
        raise UsageError(str(exc)) from None


def _predictor(args: argparse.Namespace, jobs: Sequence[Job]) -> Predictor:
    """The predictor for the options (the ``--offline`` rule lives in :meth:`Predictor.for_options`)."""
    conditioned = args.query is not None or args.query_image is not None or any(j.query for j in jobs)
    try:
        return Predictor.for_options(
            model=args.model, decoder=getattr(args, "decoder", None), offline=bool(getattr(args, "offline", False)),
            conditioned=conditioned, device=args.device, max_pixels=args.max_pixels, **backend_kwargs(args),
        )
    except RequestError as exc:
        raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace, jobs: list[Job], bad_rows: Sequence[JobError], *, overwrite: bool,
         per_input_lines: bool) -> int:
    options = _options(args, overwrite=overwrite)
    if not jobs and not bad_rows:
        raise PromptcropError(f"{args.input}: no image files found")
    predictor = _predictor(args, jobs)

    def on_record(job: Job, record: dict[str, Any], skipped: bool) -> None:
        if args.json:
            tqdm.write(json.dumps(record, ensure_ascii=False), file=sys.stdout)
        elif per_input_lines:
            state = "already done" if skipped else f"{len(record['crops'])} crops ({record['mode']})"
            tqdm.write(f"{job.source}: {state} -> {Path(args.output) / (job.key + '.json')}", file=sys.stdout)

    summary = run_jobs(
        jobs, predictor, options, args.output, bad_rows=bad_rows, on_record=on_record,
        progress=False if args.quiet else None, verbose=args.verbose, hint=cli_hint,
    )
    _print_summary(summary, to_stderr=args.json)
    return summary.exit_code


def _print_summary(summary: BatchSummary, *, to_stderr: bool) -> None:
    print(summary.line(), file=sys.stderr if to_stderr else sys.stdout, flush=True)


def _cmd_crop(args: argparse.Namespace) -> int:
    args.input = " ".join(args.images)
    return _run(args, jobs_from_paths(args.images), (), overwrite=True, per_input_lines=True)


def _cmd_batch(args: argparse.Namespace) -> int:
    source = Path(args.input)
    if source.is_dir():
        jobs, bad_rows = jobs_from_folder(source, args.output), []
    elif source.suffix.lower() in MANIFEST_SUFFIXES:
        jobs, bad_rows = jobs_from_manifest(source)
    elif source.exists():
        raise UsageError(f"{args.input}: INPUT must be a folder or a .jsonl / .csv manifest")
    else:
        raise PromptcropError(f"{args.input}: no such folder or manifest")
    return _run(args, jobs, bad_rows, overwrite=args.overwrite, per_input_lines=False)


def _cmd_demo(args: argparse.Namespace) -> int:
    from promptcrop.demo import run_demo

    return run_demo(
        args.output, model=args.model, device=args.device, k=args.k, overwrite=args.overwrite,
        progress=False if args.quiet else None, verbose=args.verbose,
    )


def _cmd_download(args: argparse.Namespace) -> int:
    import huggingface_hub.constants

    from promptcrop.encoder import OwlViTEncoder

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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help / --version (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.handler(args))
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


def cli_hint(exc: BaseException) -> str:
    """The command-line option that fixes ``exc``, as a suffix for its message ('' if none)."""
    if isinstance(exc, ImageLoadError) and exc.kind == "too_large":
        return " (raise --max-pixels)"
    if not (is_user_error(exc) or isinstance(exc, OSError)):
        return f"; {VERBOSE_HINT}"
    return ""


def _error(message: str, *, code: int) -> int:
    print(f"promptcrop: error: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":  # pragma: no cover - `python -m promptcrop.cli`
    sys.exit(main())
