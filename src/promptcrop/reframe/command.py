"""``promptcrop reframe``: the command line of the video front end.

:func:`add_reframe_parser` registers the sub-command; PyAV, PySceneDetect and the model code are
imported only when it runs. A bad input is one line on stderr (``promptcrop: error: <video>:
<reason>``) and the run goes on with the next; the exit code is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from promptcrop.cli.options import add_backend_options
from promptcrop.config import DEFAULT_MODEL_ID

HELP = "reframe videos to other ratios, following a subject"
DEFAULT_OUT = "promptcrop-reframe"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_reframe_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``reframe`` to the sub-command parsers ``sub``; returns its parser."""
    from promptcrop.cli import positive_int
    from promptcrop.reframe.subjects import DEFAULT_KEYFRAME_RATE
    from promptcrop.reframe.video import (
        DEFAULT_CODEC,
        DEFAULT_CRF,
        DEFAULT_MAX_PIXELS,
        DEFAULT_MAX_SECONDS,
        DEFAULT_PRESET,
    )

    p = sub.add_parser(
        "reframe", help=HELP,
        description="Cut videos to other aspect ratios with a smooth camera that follows the subject "
                    "(a text query, an example image, or the offline subject), shot by shot. Writes "
                    "<stem>.<W>x<H>.mp4 and the crop path <stem>.<W>x<H>.reframe.json per ratio.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("-a", "--aspect", action="append", default=[], metavar="W:H",
                   help="target ratio, repeatable (default 9:16)")
    query = p.add_mutually_exclusive_group()
    query.add_argument("-q", "--query", metavar="TEXT", help="what to follow, in words (needs the OWL-ViT weights)")
    query.add_argument("--query-image", metavar="PATH", help="an example image of what to follow")
    p.add_argument("--exclude", action="append", default=[], metavar="TEXT",
                   help="what to leave out, in words (needs the weights), repeatable")
    p.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default ./{DEFAULT_OUT}/)")
    p.add_argument("--offline", action="store_true",
                   help="never use the network: weight-free subject without a query, cached weights with one")
    p.add_argument("--path-only", action="store_true", help="write the crop-path JSON only, no video")
    p.add_argument("--fit", choices=("crop", "pad"), default="crop",
                   help="pad: letterbox the shots whose subject does not fit the ratio (default crop)")
    p.add_argument("--keyframe-rate", type=_positive_float, default=DEFAULT_KEYFRAME_RATE, metavar="N",
                   help=f"keyframes analysed per second (default {DEFAULT_KEYFRAME_RATE:g})")
    p.add_argument("--codec", default=DEFAULT_CODEC, help=f"FFmpeg video encoder (default {DEFAULT_CODEC})")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF, metavar="N",
                   help=f"quality, 0-51, lower is better (default {DEFAULT_CRF})")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"x264/x265 speed preset (default {DEFAULT_PRESET})")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse videos whose frames have more pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--max-seconds", type=_positive_float, default=DEFAULT_MAX_SECONDS, metavar="S",
                   help=f"refuse videos longer than this (default {DEFAULT_MAX_SECONDS:g})")
    p.add_argument("--overwrite", action="store_true", help="redo videos whose outputs are complete")
    p.add_argument("--model", default=DEFAULT_MODEL_ID, metavar="ID|DIR",
                   help=f"OWL-ViT hub id or local directory (default {DEFAULT_MODEL_ID})")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    add_backend_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_reframe, parser=p)
    return p


def options_from_args(args: argparse.Namespace) -> Any:
    """The validated :class:`~promptcrop.reframe.runner.ReframeOptions` of a parsed command line."""
    from promptcrop.cli import UsageError
    from promptcrop.errors import RequestError
    from promptcrop.reframe.runner import ReframeOptions
    from promptcrop.reframe.subjects import AnalysisConfig
    from promptcrop.reframe.video import EncodeOptions

    try:
        return ReframeOptions(
            ratios=tuple(args.aspect) or ("9:16",), query=args.query, query_image=args.query_image,
            exclude=tuple(args.exclude), fit=args.fit, path_only=args.path_only, overwrite=args.overwrite,
            analysis=AnalysisConfig(keyframe_rate=args.keyframe_rate),
            encode=EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset),
            max_pixels=args.max_pixels, max_seconds=args.max_seconds,
        )
    except (RequestError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def run_reframe(args: argparse.Namespace) -> int:
    """Reframe every input; one line per finished input on stdout, one per failure on stderr."""
    from promptcrop.batch.progress import bar, write
    from promptcrop.cli import UsageError
    from promptcrop.errors import RequestError
    from promptcrop.options import PredictorOptions
    from promptcrop.predictor import Predictor
    from promptcrop.reframe.runner import Reframer
    from promptcrop.reframe.video import require_av

    options = options_from_args(args)
    require_av()
    conditioned = args.query is not None or args.query_image is not None or bool(args.exclude)
    try:
        model_options = PredictorOptions(model=args.model, offline=args.offline, device=args.device,
                                         backend=args.backend, onnx_dir=args.onnx_dir)
        predictor = Predictor.from_options(model_options, conditioned=conditioned)
    except RequestError as exc:
        raise UsageError(str(exc)) from None
    progress = None if args.quiet else (lambda **kw: bar(enabled=None, leave=False, **kw))
    reframer = Reframer(predictor, options, args.output, progress=progress)

    def on_result(results: list[Any]) -> None:
        for r in results:
            state = "already done" if r.skipped else f"{len(r.record['shots'])} shots"
            target = r.video_path if r.video_path is not None else r.json_path
            write(f"{r.input} [{r.ratio}]: {state} -> {target}")

    def on_failure(source: str, reason: str) -> None:
        print(f"promptcrop: error: {source}: {reason}", file=sys.stderr, flush=True)

    summary = reframer.run_many(args.videos, on_result=on_result, on_failure=on_failure)
    print(summary.line(), flush=True)
    return summary.exit_code
