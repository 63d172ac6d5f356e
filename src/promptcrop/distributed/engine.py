"""``promptcrop batch --engine ray``: the local batch runner with Ray Data doing the cropping.

:class:`RayBatchRunner` is a :class:`~promptcrop.batch.BatchRunner`: the same jobs, fingerprints,
resume rule (inputs whose outputs are complete are filtered out before the job starts), summary
line and ``errors.jsonl``. Only the inputs left to do travel to Ray, as a dataset of
``(image, key, query, aspect, fingerprint)`` rows; the actors write each input's crop files and
record into the output folder as they go (so a killed driver loses nothing that was finished), and
the driver collects the rows to report them. At the end ``records.parquet`` holds the record of
every input done, now or by an earlier run.

The output folder must be one every node can write to (local Ray; a shared file system on a
cluster). For object stores use :func:`promptcrop.distributed.crop_dataset` with ``output=``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcrop.batch import BatchRunner, BatchSummary, Job, JobError, RecordCallback, RunOptions, prepare_output_dir
from promptcrop.batch.progress import Bar
from promptcrop.distributed.actor import Columns, PredictorSpec
from promptcrop.distributed.dataset import map_crops
from promptcrop.distributed.runtime import ray_failure, ray_session, require_ray
from promptcrop.distributed.table import RECORDS_FILE, RecordsWriter
from promptcrop.errors import PromptcropError
from promptcrop.predictor import Predictor

_COLUMNS = Columns(image="image", query="query", aspect="aspect", exclude="exclude", key="key",
                   fingerprint="fingerprint", input="input")


@dataclass(frozen=True)
class RayOptions:
    """``address``: ``None`` (a local Ray with this machine's CPUs), ``"auto"`` or ``HOST:PORT``;
    ``concurrency``: crop actors (default one per CPU); ``batch_size``: rows per actor call;
    ``quiet``: no Ray progress display."""

    address: str | None = None
    concurrency: int | None = None
    batch_size: int = 8
    num_gpus: float = 0.0
    quiet: bool = False


class RayBatchRunner(BatchRunner):
    """Runs jobs on Ray Data into one output folder (see the module docstring).

    Args:
        predictor: the driver's predictor: it names the model for the fingerprints (and has
            checked, once, that its weights load); every actor builds its own from ``spec``.
        spec: how the actors build their predictors.
        options, out_dir, on_record, verbose, hint: as :class:`~promptcrop.batch.BatchRunner` (the
            actors apply ``hint``, a module-level function, to their failures).
        ray_options: where and how wide to run.
    """

    def __init__(
        self, predictor: Predictor, spec: PredictorSpec, options: RunOptions, out_dir: str | os.PathLike[str], *,
        ray_options: RayOptions = RayOptions(), on_record: RecordCallback | None = None, verbose: bool = False,
        hint: Callable[[BaseException], str] | None = None,
    ) -> None:
        super().__init__(predictor, options, out_dir, on_record=on_record, progress=False, verbose=verbose, hint=hint)
        self.spec = spec
        self.ray_options = ray_options
        self._records: RecordsWriter | None = None

    def run(self, jobs: Sequence[Job], bad_rows: Sequence[JobError] = ()) -> BatchSummary:
        require_ray()
        prepare_output_dir(self.out_dir)
        with RecordsWriter(self.out_dir / RECORDS_FILE) as self._records:
            return super().run(jobs, bad_rows)

    def _execute(self, summary: BatchSummary, todo: Sequence[tuple[Job, str]], protected: frozenset[Path],
                 bar: Bar) -> None:
        if not todo:
            return
        import ray.data

        by_key = {job.key: job for job, _ in todo}
        out = self.out_dir.resolve()
        inside = [str(p) for p in protected if p.is_relative_to(out)]
        opts = self.ray_options
        reported = len(summary.errors)
        with ray_session(opts.address, quiet=opts.quiet), _one_line_errors():
            rows = map_crops(
                ray.data.from_arrow(_job_blocks(todo, opts.batch_size)), self.spec, self.options, _COLUMNS,
                output=str(out), concurrency=opts.concurrency, batch_size=opts.batch_size, num_gpus=opts.num_gpus,
                protected=inside, hint=self.hint,
            )
            for batch in rows.iter_batches(batch_format="pyarrow", batch_size=None):
                for row in batch.to_pylist():
                    job = by_key[row["key"]]
                    if row["error"] is not None:
                        self._fail(summary, job.label, row["error"], origin=job.origin, source=job.source)
                    else:
                        self._succeeded(summary, job, json.loads(row["record"]))
        # Rows come back as actors finish them; errors.jsonl lists failures in input order, as locally.
        order = {job.label: i for i, (job, _) in enumerate(todo)}
        summary.errors[reported:] = sorted(summary.errors[reported:], key=lambda e: order[e["input"]])

    def _done(self, summary: BatchSummary, job: Job, record: dict[str, Any], *, skipped: bool) -> None:
        super()._done(summary, job, record, skipped=skipped)
        if self._records is not None and record:
            self._records.add(record)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A Ray job that fails as a whole (an actor that cannot start: weights missing on a node...)
    is one error line, not Ray's remote traceback; a bad input never gets here."""
    try:
        yield
    except PromptcropError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps whatever the workers raised
        raise PromptcropError(f"the Ray job failed: {ray_failure(exc)}") from exc


MAX_BLOCKS = 20_000
"""The job table is cut into blocks of ``batch_size`` rows, fewer and larger ones past this many."""


def _job_blocks(todo: Sequence[tuple[Job, str]], batch_size: int) -> list[Any]:
    """The inputs to do as Arrow tables (Ray Data blocks): ``image`` (absolute path: actors may run
    in another folder), ``input`` (the path as given, for the records), ``key``, ``query``,
    ``aspect``, ``exclude`` and ``fingerprint``."""
    import pyarrow as pa

    table = pa.table({
        "image": pa.array([os.path.abspath(job.source) for job, _ in todo], pa.string()),
        "input": pa.array([job.source for job, _ in todo], pa.string()),
        "key": pa.array([job.key for job, _ in todo], pa.string()),
        "query": pa.array([job.query for job, _ in todo], pa.string()),
        "aspect": pa.array([list(job.aspects) if job.aspects is not None else None for job, _ in todo],
                           pa.list_(pa.string())),
        "exclude": pa.array([list(job.exclude) for job, _ in todo], pa.list_(pa.string())),
        "fingerprint": pa.array([fp for _, fp in todo], pa.string()),
    })
    rows = max(batch_size, math.ceil(len(todo) / MAX_BLOCKS))
    return [table.slice(start, rows) for start in range(0, len(todo), rows)]
