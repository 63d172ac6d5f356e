"""The batch runner shared by ``promptcrop crop``, ``promptcrop batch`` and ``promptcrop demo``.

:func:`run_jobs` crops :class:`~promptcrop.batch.jobs.Job` s one by one with a shared
:class:`~promptcrop.predictor.Predictor` (``promptcrop.distributed.engine`` runs the same jobs on
Ray Data by overriding :meth:`BatchRunner._execute`):

- decoding is overlapped with inference: a small thread pool decodes the next inputs while the
  predictor runs;
- it is resumable: an input whose record is complete (same input size and mtime, same options,
  every file present) is skipped unless ``overwrite``;
- every output goes through a temporary name then a rename (:mod:`promptcrop.batch.outputs`), and
  temporary files left by an interrupted run are removed;
- one bad input never stops the run: it is reported, appended to ``DIR/errors.jsonl`` (rewritten
  atomically after each failure; removed when a run has no failure) and the run goes on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcrop.batch.jobs import Job, JobError
from promptcrop.batch.outputs import OutputPaths, read_record, record_is_complete, write_outputs
from promptcrop.batch.prefetch import prefetch
from promptcrop.batch.progress import Bar
from promptcrop.batch.progress import bar as progress_bar
from promptcrop.batch.progress import write as write_line
from promptcrop.errors import PromptcropError, RequestError, failure_reason, is_user_error
from promptcrop.images import LoadedImage, atomic_write_text, load_image
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest, check_condition
from promptcrop.results import build_record

try:  # CPython's own SHA-256: hashlib would load OpenSSL first, a share of every start (as random does)
    from _sha256 import sha256
except ImportError:  # Python 3.12+ names it _sha2; other interpreters
    from hashlib import sha256

ERRORS_FILE = "errors.jsonl"
# Temporary files of images._atomic_file: ".<name>.<12 hex>.tmp" beside the destination.
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")



# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class RunOptions:
    """What to make of every input, validated once (``RequestError`` on a bad value).

    - ``request``: the :class:`CropRequest` (k, ratios, size, fit, focus, avoid) for every input;
      a manifest row's own ratios replace its ratios (:meth:`request_for`).
    - ``query``: text query for every input (a manifest row's own query wins);
      ``query_image``: path of an example image of what to keep.
    - ``overlay``: also write ``<key>.overlay.png``; ``explain``: score breakdown per crop.
    - ``overwrite``: redo inputs whose outputs are complete; ``prefetch``: inputs decoded ahead.
    """

    request: CropRequest = field(default_factory=CropRequest)
    query: str | None = None
    query_image: str | None = None
    overlay: bool = False
    explain: bool = False
    overwrite: bool = False
    prefetch: int = 4

    def __post_init__(self) -> None:
        if self.prefetch < 1:
            raise RequestError(f"prefetch must be at least 1, got {self.prefetch}")
        check_condition([self.query], self.query_image)

    def request_for(self, job: Job) -> CropRequest:
        """The predictor request for ``job`` (its own ratios, if any, replace the run's; its own
        ``exclude`` phrases are added to the run's)."""
        request = self.request.with_aspects(job.aspects)
        extra = tuple(p for p in job.exclude if p not in request.exclude)
        if extra:
            request = dataclasses.replace(request, exclude=request.exclude + extra)
        return request

    def query_for(self, job: Job) -> str | None:
        return job.query if job.query is not None else self.query


def fingerprint(job: Job, options: RunOptions, predictor: Predictor) -> str:
    """A short hash of the input file (size, mtime), the options and the model: a changed input
    or changed options make a complete record stale."""
    data = {
        "key": job.key,
        "input": _stat(job.source),
        "query": options.query_for(job),
        "query_image": None if options.query_image is None else [options.query_image, _stat(options.query_image)],
        "request": options.request_for(job).to_json(),
        "overlay": options.overlay, "explain": options.explain,
        "model": predictor.model_id, "decoder": predictor.decoder_id, "mode": predictor.mode,
    }
    return sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# --------------------------------------------------------------------------- running


@dataclass
class BatchSummary:
    """How a run went: input counts, crop files written, wall time, the failures."""

    out_dir: Path
    total: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    crops: int = 0
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every input succeeded (or was already done), 1 when some failed."""
        return 1 if self.failed else 0

    def line(self) -> str:
        """The one summary line printed at the end of a run."""
        text = (
            f"promptcrop: {self.total} input{'s' if self.total != 1 else ''}: {self.written} cropped, "
            f"{self.skipped} already done, {self.failed} failed; {self.crops} crop files in "
            f"{self.out_dir} ({self.seconds:.1f} s)"
        )
        if self.failed:
            text += f"; failures listed in {self.out_dir / ERRORS_FILE}"
        return text


RecordCallback = Callable[[Job, dict[str, Any], bool], None]
"""Called after each input with ``(job, record, skipped)``."""


class BatchRunner:
    """Runs jobs with one predictor into one output folder (see the module docstring).

    Args:
        predictor: the shared :class:`Predictor`.
        options: :class:`RunOptions` for every job.
        out_dir: the output folder (created if missing).
        on_record: called after each finished or skipped input.
        progress: show a progress bar (rate and ETA) on stderr; ``None`` = only on a terminal and
            for more than one input (a bar for one image tells nothing and costs tqdm's import).
        verbose: print the traceback of unexpected errors.
        hint: gives a suffix for a failure's reason (a front end's way to fix it: a CLI flag).
    """

    def __init__(
        self,
        predictor: Predictor,
        options: RunOptions,
        out_dir: str | os.PathLike[str],
        *,
        on_record: RecordCallback | None = None,
        progress: bool | None = None,
        verbose: bool = False,
        hint: Callable[[BaseException], str] | None = None,
    ) -> None:
        self.predictor = predictor
        self.options = options
        self.out_dir = Path(out_dir)
        self.on_record = on_record
        self.progress = progress
        self.verbose = verbose
        self.hint = hint
        self._query_image: LoadedImage | None = None

    def run(self, jobs: Sequence[Job], bad_rows: Sequence[JobError] = ()) -> BatchSummary:
        """Crop every job; ``bad_rows`` (manifest rows that could not become jobs) count as failed."""
        start = time.perf_counter()
        summary = BatchSummary(out_dir=self.out_dir, total=len(jobs) + len(bad_rows))
        prepare_output_dir(self.out_dir)
        protected = frozenset(Path(job.source).resolve() for job in jobs)
        for bad in bad_rows:
            self._fail(summary, bad.label, bad.reason)
        prints = [(job, fingerprint(job, self.options, self.predictor)) for job in jobs]
        todo = []
        enabled = self.progress if self.progress is not None or len(jobs) > 1 else False
        with progress_bar(total=len(jobs), enabled=enabled, unit="img", dynamic_ncols=True) as bar:
            for job, fp in prints:
                paths = OutputPaths(self.out_dir, job.key)
                if not self.options.overwrite and record_is_complete(paths, fp):
                    self._done(summary, job, read_record(paths.record) or {}, skipped=True)
                    bar.update(1)
                else:
                    todo.append((job, fp))
            _remove_stale_temporaries({OutputPaths(self.out_dir, job.key).record.parent for job, _ in todo})
            self._execute(summary, todo, protected, bar)
        self._write_errors(summary)
        summary.seconds = time.perf_counter() - start
        return summary

    def _execute(self, summary: BatchSummary, todo: Sequence[tuple[Job, str]], protected: frozenset[Path],
                 bar: Bar) -> None:
        """Crop the ``(job, fingerprint)`` pairs that resume did not skip (another engine overrides
        this and reports each input through :meth:`_succeeded` / :meth:`_fail`)."""
        for (job, fp), loading in prefetch(todo, self._load, self.options.prefetch, workers=2):
            self._run_one(summary, job, fp, loading, protected)
            bar.update(1)

    def _load(self, item: tuple[Job, str]) -> LoadedImage:
        return load_image(item[0].source, max_pixels=self.predictor.max_pixels)

    def _run_one(
        self, summary: BatchSummary, job: Job, fp: str, loading: Future[LoadedImage], protected: frozenset[Path]
    ) -> None:
        try:
            image = loading.result()
            record = self.crop(job, fp, image, protected)
        except Exception as exc:  # noqa: BLE001 - one bad input never stops the batch
            if self.verbose and not (is_user_error(exc) or isinstance(exc, OSError)):
                write_line("".join(traceback.format_exception(exc)).rstrip(), file=sys.stderr)
            self._fail(summary, job.label, self.reason(exc), origin=job.origin, source=job.source)
            return
        self._succeeded(summary, job, record)

    def reason(self, exc: BaseException) -> str:
        """The one line that says why an input failed (with the front end's hint)."""
        return failure_reason(exc) + (self.hint(exc) if self.hint else "")

    def _succeeded(self, summary: BatchSummary, job: Job, record: dict[str, Any]) -> None:
        summary.written += 1
        self._done(summary, job, record, skipped=False)

    def crop(
        self, job: Job, fp: str, image: LoadedImage, protected: frozenset[Path] = frozenset(), *, write: bool = True
    ) -> dict[str, Any]:
        """Crop one decoded input and return its record; with ``write`` the crop files, the overlay
        and the record go to the output folder (``protected`` paths are never written), without it
        the record names no file."""
        prediction = self.predictor.predict_batch(
            [image], [self.options.query_for(job)],
            query_image=self.query_image(), request=self.options.request_for(job),
        )[0]
        if not write:
            return build_record(prediction, input=job.source, explain=self.options.explain, fingerprint=fp or None)
        return write_outputs(
            OutputPaths(self.out_dir, job.key), image, prediction, input=job.source,
            overlay=self.options.overlay, explain=self.options.explain, fingerprint=fp, protected=protected,
        )

    def query_image(self) -> LoadedImage | None:
        """The query image (loaded once), or ``None``."""
        if self.options.query_image is None:
            return None
        if self._query_image is None:
            self._query_image = load_image(self.options.query_image, max_pixels=self.predictor.max_pixels)
        return self._query_image

    def _done(self, summary: BatchSummary, job: Job, record: dict[str, Any], *, skipped: bool) -> None:
        summary.skipped += int(skipped)
        if not skipped:
            summary.crops += len(record.get("crops", []))
        if self.on_record is not None:
            self.on_record(job, record, skipped)

    def _fail(self, summary: BatchSummary, label: str, reason: str, **extra: Any) -> None:
        summary.failed += 1
        entry = {"input": label, "error": reason}
        entry.update({k: v for k, v in extra.items() if v is not None})
        summary.errors.append(entry)
        write_line(f"promptcrop: error: {label}: {reason}", file=sys.stderr)
        self._write_errors(summary)

    def _write_errors(self, summary: BatchSummary) -> None:
        """``errors.jsonl`` holds this run's failures; a run without failure removes an old one."""
        path = self.out_dir / ERRORS_FILE
        if summary.errors:
            text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in summary.errors)
            atomic_write_text(path, text)
        elif path.exists():
            path.unlink()


def run_jobs(
    jobs: Sequence[Job],
    predictor: Predictor,
    options: RunOptions,
    out_dir: str | os.PathLike[str],
    *,
    bad_rows: Sequence[JobError] = (),
    on_record: RecordCallback | None = None,
    progress: bool | None = None,
    verbose: bool = False,
    hint: Callable[[BaseException], str] | None = None,
) -> BatchSummary:
    """Convenience wrapper: ``BatchRunner(...).run(jobs, bad_rows)``."""
    runner = BatchRunner(predictor, options, out_dir, on_record=on_record, progress=progress, verbose=verbose, hint=hint)
    return runner.run(jobs, bad_rows)


def prepare_output_dir(out_dir: Path) -> None:
    """Create the output folder and check that files can be written in it.

    Raises:
        PromptcropError: one line naming the folder and the system's reason.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as exc:
        raise PromptcropError(f"cannot write to the output folder {out_dir} ({exc.strerror or exc})") from None


def _remove_stale_temporaries(folders: Iterable[Path]) -> None:
    """Remove temporary files an interrupted run left in the folders this run writes to."""
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if _TEMP_NAME.match(name):
                try:
                    os.unlink(folder / name)
                except OSError:
                    pass
