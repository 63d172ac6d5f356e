"""The ``--engine`` options of ``promptcrop batch`` and the one place that picks the engine.

Importing this module imports no Ray: ``--engine ray`` without Ray installed is one line,
``promptcrop: error: the Ray engine needs Ray Data: pip install 'promptcrop[ray]'``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptcrop.batch import BatchSummary, Job, JobError, RecordCallback, RunOptions
    from promptcrop.predictor import Predictor

ENGINES = ("local", "ray")


def add_engine_options(parser: argparse.ArgumentParser, count: Callable[[str], int]) -> None:
    """``--engine``, ``--ray-address``, ``--concurrency``, ``--batch-size`` (``count``: the
    argparse type of positive integers)."""
    group = parser.add_argument_group("scaling out (Ray Data)")
    group.add_argument("--engine", choices=ENGINES, default="local",
                       help="local: this process (default); ray: Ray Data actors (pip install 'promptcrop[ray]')")
    group.add_argument("--ray-address", metavar="auto|HOST:PORT",
                       help="join this Ray cluster (default: start a local Ray with this machine's CPUs)")
    group.add_argument("--concurrency", type=count, metavar="N", help="crop actors (default: one per CPU)")
    group.add_argument("--batch-size", type=count, metavar="B", help="inputs per actor call (default 8)")


def check_engine_options(args: argparse.Namespace) -> None:
    """Refuse Ray options without ``--engine ray`` (``ValueError``); with it, check that Ray is
    installed (``PromptcropError`` with the install line) before any model loads."""
    if getattr(args, "engine", "local") != "ray":
        given = [flag for flag, value in (("--ray-address", args.ray_address), ("--concurrency", args.concurrency),
                                          ("--batch-size", args.batch_size)) if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply with --engine ray")
        return
    from promptcrop.distributed.runtime import require_ray

    require_ray()


def run_engine(
    args: argparse.Namespace, jobs: Sequence[Job], bad_rows: Sequence[JobError], predictor: Predictor,
    options: RunOptions, *, on_record: RecordCallback | None, conditioned: bool,
    hint: Callable[[BaseException], str] | None = None,
) -> BatchSummary:
    """Run the jobs on the engine ``args.engine`` names (``local`` for commands without one);
    ``hint``: the command line's suffix for failure reasons."""
    if getattr(args, "engine", "local") != "ray":
        from promptcrop.batch import run_jobs

        return run_jobs(jobs, predictor, options, args.output, bad_rows=bad_rows, on_record=on_record,
                        progress=False if args.quiet else None, verbose=args.verbose, hint=hint)
    from promptcrop.cli.options import predictor_options
    from promptcrop.distributed.actor import PredictorSpec
    from promptcrop.distributed.engine import RayBatchRunner, RayOptions

    spec = PredictorSpec(predictor_options(args), conditioned=conditioned)
    ray_options = RayOptions(address=args.ray_address, concurrency=args.concurrency,
                             batch_size=args.batch_size or RayOptions.batch_size, num_gpus=1.0 if args.device.startswith("cuda") else 0.0,
                             quiet=args.quiet)
    runner = RayBatchRunner(predictor, spec, options, args.output, ray_options=ray_options, on_record=on_record,
                            verbose=args.verbose, hint=hint)
    return runner.run(jobs, bad_rows)
