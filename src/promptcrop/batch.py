"""The batch runner shared by ``promptcrop crop``, ``promptcrop batch`` and ``promptcrop demo``.

Inputs become :class:`Job` s — from a folder (:func:`jobs_from_folder`, recursive, image files
only), a manifest (:func:`jobs_from_manifest`, ``.jsonl``, ``.csv`` or Parquet) or a list of
paths (:func:`jobs_from_paths`). :func:`run_jobs` then crops them one by one with a shared
:class:`~promptcrop.predictor.Predictor` (``promptcrop.distributed.engine`` runs the same jobs on
Ray Data by overriding :meth:`BatchRunner._execute`):

- decoding is overlapped with inference: a small thread pool decodes the next inputs while the
  predictor runs;
- it is resumable: an input whose record is complete (same input size and mtime, same options,
  every file present) is skipped unless ``overwrite``;
- every output goes through a temporary name then a rename (:mod:`promptcrop.outputs`), and
  temporary files left by an interrupted run are removed;
- one bad input never stops the run: it is reported, appended to ``DIR/errors.jsonl`` (rewritten
  atomically after each failure; removed when a run has no failure) and the run goes on.

Output keys (where an input's files go, relative to the output folder, without suffix):

- folder input: the input's path relative to the folder, without suffix (``sub/photo``), so
  equal names in different subfolders never collide;
- manifest: the image's path relative to the manifest's folder when it lies inside it, else its
  file stem;
- plain paths (``promptcrop crop``): the file stem.

Inputs that would still share a key (``a.jpg`` and ``a.png``; one image listed twice with two
queries) get ``-<8 hex digits>`` appended, a hash of what tells them apart (path, query,
ratios), so the names stay the same from one run to the next.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcrop import boxes as B
from promptcrop.errors import DatasetError, PromptcropError, RequestError, failure_reason, is_user_error
from promptcrop.images import LoadedImage, atomic_write_text, is_image_path, load_image
from promptcrop.outputs import OutputPaths, read_record, record_is_complete, write_outputs
from promptcrop.predictor import CropRequest, Predictor
from promptcrop.prefetch import prefetch
from promptcrop.progress import Bar
from promptcrop.progress import bar as progress_bar
from promptcrop.progress import write as write_line
from promptcrop.records import build_record

ERRORS_FILE = "errors.jsonl"
PARQUET_SUFFIX = ".parquet"
MANIFEST_SUFFIXES = (".jsonl", ".csv", PARQUET_SUFFIX)
# Temporary files of images._atomic_file: ".<name>.<12 hex>.tmp" beside the destination.
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
# Output file names (outputs.OutputPaths): "<stem>.<rank>.<W>x<H>.<ext>" and "<stem>.overlay.png".
_OUTPUT_NAME = re.compile(r"^(?P<stem>.+?)(?:\.\d+\.\d+x\d+(?:-\d+)?\.[A-Za-z]+|\.overlay\.png)$")


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """One input to crop.

    - ``source``: the image path (as given, or resolved against the manifest's folder).
    - ``key``: where its outputs go, relative to the output folder, without suffix.
    - ``query``: a per-input text query (manifest), overriding the run's query.
    - ``aspects``: per-input ratio labels (manifest), overriding the run's ratios.
    - ``origin``: ``"manifest.jsonl:12"`` for manifest rows, for error messages.
    """

    source: str
    key: str
    query: str | None = None
    aspects: tuple[str, ...] | None = None
    origin: str | None = None

    @property
    def label(self) -> str:
        """How errors name this input."""
        return f"{self.origin} ({self.source})" if self.origin else self.source


@dataclass(frozen=True)
class JobError:
    """An input that failed before it could run (a bad manifest row): ``label`` and ``reason``."""

    label: str
    reason: str


def jobs_from_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Job]:
    """One job per path, keyed by file stem (duplicated stems get a hash suffix)."""
    items = [(os.fspath(p), Path(p).stem, str(Path(p).resolve())) for p in paths]
    return _with_unique_keys([(Job(source=s, key=stem), ident) for s, stem, ident in items])


def jobs_from_folder(folder: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> list[Job]:
    """Every image file under ``folder`` (recursive, sorted, hidden names skipped), keyed by its
    relative path. The output folder's subtree is skipped when it lies inside ``folder``, and
    when it *is* ``folder``, so are the files a previous run wrote there."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{os.fspath(folder)}: not a folder")
    out = Path(out_dir).resolve() if out_dir is not None else None
    items = []
    for path in _walk_images(root, out):
        rel = path.relative_to(root)
        key = rel.with_suffix("").as_posix()
        items.append((Job(source=os.fspath(path), key=key), rel.as_posix()))
    return _with_unique_keys(items)


def _walk_images(root: Path, out: Path | None) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != out)
        same_as_out = out is not None and here.resolve() == out
        for name in sorted(files):
            if name.startswith(".") or not is_image_path(name):
                continue
            if same_as_out and _written_by_us(here, name):
                continue
            yield here / name


def _written_by_us(folder: Path, name: str) -> bool:
    """A crop or overlay whose record sits beside it (a previous run into the input folder)."""
    match = _OUTPUT_NAME.match(name)
    return bool(match) and (folder / f"{match.group('stem')}.json").is_file()


def is_parquet_folder(path: str | os.PathLike[str]) -> bool:
    """A folder holding ``.parquet`` files directly (a Parquet data set), not an image folder."""
    folder = Path(path)
    return folder.is_dir() and any(p.suffix.lower() == PARQUET_SUFFIX for p in folder.iterdir() if p.is_file())


def jobs_from_manifest(manifest: str | os.PathLike[str]) -> tuple[list[Job], list[JobError]]:
    """Jobs from a ``.jsonl`` (one JSON object per line), ``.csv`` (header row) or Parquet
    (a ``.parquet`` file or a folder of them) manifest.

    Fields: ``image`` (required; relative paths are relative to the manifest's folder),
    ``query`` (optional), ``aspect`` (optional: ``"16:9"``, ``"16:9,1:1"`` or a JSON list).
    Bad rows come back as :class:`JobError` s naming the line (Parquet: the row, from 1); an
    unreadable manifest, or one without an ``image`` column, raises
    :class:`~promptcrop.errors.DatasetError`.
    """
    path = Path(manifest)
    suffix = PARQUET_SUFFIX if is_parquet_folder(path) else path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise DatasetError(f"{path}: a manifest must be a .jsonl, .csv or .parquet file")
    if suffix == PARQUET_SUFFIX:
        rows = _parquet_rows(path)
        base = path if path.is_dir() else path.parent
    else:
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                parsed = _jsonl_rows(fh) if suffix == ".jsonl" else _csv_rows(fh, path)
                rows = [(path.name, line, row) for line, row in parsed]
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{path}: cannot read the manifest ({exc})") from None
        base = path.parent
    items, errors = [], []
    for name, line, row in rows:
        origin = f"{name}:{line}"
        try:
            job, ident = _manifest_job(row, base, origin)
        except ValueError as exc:
            errors.append(JobError(origin, str(exc)))
            continue
        items.append((job, ident))
    return _with_unique_keys(items), errors


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, ValueError(f"not valid JSON ({exc.args[0] if exc.args else exc})")


def _csv_rows(lines: Iterable[str], path: Path) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "image" not in reader.fieldnames:
        raise DatasetError(f"{path}: the CSV manifest needs a header row with an 'image' column")
    for row in reader:
        yield reader.line_num, row


def _parquet_rows(path: Path) -> list[tuple[str, int, Any]]:
    """``(file name, row number from 1, {column: value})`` of a Parquet file or every ``.parquet``
    file of a folder (sorted), reading only the ``image``, ``query`` and ``aspect`` columns."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(f"{path}: reading Parquet needs pyarrow: pip install 'promptcrop[ray]'") from None
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == PARQUET_SUFFIX) if path.is_dir() else [path]
    rows: list[tuple[str, int, Any]] = []
    for file in files:
        try:
            table = pq.ParquetFile(file)
            names = set(table.schema_arrow.names)
            if "image" not in names:
                raise DatasetError(f"{file}: the Parquet manifest needs an 'image' column")
            columns = [c for c in ("image", "query", "aspect") if c in names]
            records = table.read(columns=columns).to_pylist()
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise DatasetError(f"{file}: cannot read the Parquet manifest ({exc})") from None
        rows.extend((file.name, number, row) for number, row in enumerate(records, start=1))
    return rows


def _manifest_job(row: Any, base: Path, origin: str) -> tuple[Job, str]:
    """One manifest row → (job, identity); ValueError with a short reason for a bad row."""
    if isinstance(row, ValueError):
        raise row
    if not isinstance(row, dict):
        raise RequestError(f"expected an object with an 'image' field, got {type(row).__name__}")
    image = row.get("image")
    if not isinstance(image, str) or not image.strip():
        raise RequestError("missing 'image' (the image path)")
    query = row.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestError(f"'query' must be text, got {type(query).__name__}")
    aspects = row_aspects(row.get("aspect"))
    path = Path(image.strip())
    full = path if path.is_absolute() else base / path
    try:
        preferred = full.resolve().relative_to(base.resolve()).with_suffix("").as_posix()
    except ValueError:
        preferred = full.stem
    query = query.strip() if query and query.strip() else None
    ident = json.dumps([str(full.resolve()), query, aspects])
    return Job(source=os.fspath(full), key=preferred, query=query, aspects=aspects, origin=origin), ident


def row_aspects(value: Any) -> tuple[str, ...] | None:
    """A row's ``aspect`` field (``"16:9"``, ``"16:9,1:1"`` or a list) → ratio labels, ``None``
    when empty; ValueError naming a bad ratio."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        labels = [part for part in re.split(r"[,;\s]+", value.strip()) if part]
    elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value) and value:
        labels = [str(v) for v in value]
    else:
        raise RequestError(f"'aspect' must be text like 16:9 or a list of them, got {value!r}")
    for label in labels:
        B.parse_aspect_ratio(label)  # raises RequestError naming the bad ratio
    return tuple(labels)


def _with_unique_keys(items: Sequence[tuple[Job, str]]) -> list[Job]:
    """Drop exact duplicates (same identity); give keys shared by several inputs a hash suffix."""
    unique: dict[str, Job] = {}
    for job, ident in items:
        unique.setdefault(ident, job)
    by_key: dict[str, int] = {}
    for job in unique.values():
        by_key[job.key.lower()] = by_key.get(job.key.lower(), 0) + 1  # case-insensitive file systems
    out = []
    for ident, job in unique.items():
        if by_key[job.key.lower()] > 1:
            digest = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:8]
            job = Job(job.source, f"{job.key}-{digest}", job.query, job.aspects, job.origin)
        out.append(job)
    return out


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
        if self.query is not None and self.query_image is not None:
            raise RequestError("give a text query or a query image, not both")

    def request_for(self, job: Job) -> CropRequest:
        """The predictor request for ``job`` (its own ratios, if any, replace the run's)."""
        return self.request.with_aspects(job.aspects)

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
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


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
