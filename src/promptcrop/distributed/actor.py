"""The Ray Data worker: a callable class owning one :class:`~promptcrop.predictor.Predictor`.

``ray.data.Dataset.map_batches(CropActor, fn_constructor_kwargs=...)`` builds one instance per
actor — the weights load once per actor, never per batch — and calls it with ``pyarrow.Table``
batches. Each input row becomes exactly one output row (:data:`ROW_SCHEMA`); an input that cannot
be cropped (missing, corrupt, bad ratio...) becomes a row whose ``error`` is the same one-line
reason the local batch runner prints, never a failed task. Cropping itself is the batch runner's
(:meth:`promptcrop.batch.BatchRunner.crop`): the same predictor call, record and file names.

Test-only fault hook: when the environment variable :data:`FAULT_ENV` names a file that does not
exist yet, the first actor to finish an input creates it and exits at once (``os._exit``), as a
killed worker would; Ray restarts the actor and retries its batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from promptcrop.batch import BatchRunner, Job, RunOptions, row_aspects, row_exclude
from promptcrop.batch.outputs import OutputPaths, record_files
from promptcrop.batch.prefetch import prefetch
from promptcrop.distributed.storage import RemoteFolder, is_uri, read_uri
from promptcrop.errors import RequestError
from promptcrop.images import LoadedImage, load_image
from promptcrop.options import PredictorOptions
from promptcrop.predictor import Predictor

FAULT_ENV = "PROMPTCROP_TEST_KILL_ACTOR_ONCE"
CROP_FIELDS = ("ratio", "rank", "box", "score", "size", "file")
"""The fields of each crop in an output row (the record has them all)."""


def row_schema() -> Any:
    """The ``pyarrow.Schema`` of an output row.

    - ``input``: the image path / URI, or ``sha1:<16 hex>`` of encoded bytes;
    - ``key``: where its outputs go, relative to ``output``, without suffix;
    - ``mode``: ``clipcrop`` | ``zeroshot`` | ``offline``, null on error;
    - ``crops``: ``[{ratio, rank, box (xyxy int pixels of the upright image), score, size [W, H],
      file (null without output)}]``, empty on error;
    - ``error``: null, or the one-line reason the input failed;
    - ``record``: the full JSON record (the one the local engine writes), null on error.
    """
    import pyarrow as pa

    crop = pa.struct([
        ("ratio", pa.string()), ("rank", pa.int64()), ("box", pa.list_(pa.int64())),
        ("score", pa.float64()), ("size", pa.list_(pa.int64())), ("file", pa.string()),
    ])
    return pa.schema([
        ("input", pa.string()), ("key", pa.string()), ("mode", pa.string()), ("crops", pa.list_(crop)),
        ("error", pa.string()), ("record", pa.string()),
    ])


@dataclass(frozen=True)
class PredictorSpec:
    """How every actor builds its predictor (a predictor itself does not travel between processes):
    the front end's :class:`~promptcrop.options.PredictorOptions` and whether some input is
    ``conditioned`` (a query or an exclude column / option: the weights are needed)."""

    options: PredictorOptions = field(default_factory=PredictorOptions)
    conditioned: bool = False

    def build(self) -> Predictor:
        """:meth:`Predictor.from_options`: weights loaded now when a query or a decoder needs them
        (``ModelUnavailableError`` / ``CheckpointError`` once per actor, not once per input)."""
        return Predictor.from_options(self.options, conditioned=self.conditioned)


@dataclass(frozen=True)
class Columns:
    """Input column names: ``image`` (path, URI or encoded bytes); optional per-row ``query``
    (text), ``aspect`` (``"16:9"``, ``"16:9,1:1"`` or a list), ``key`` (output key; default
    ``<stem>-<8 hex>`` of the source, query and ratios), ``fingerprint`` (stored in the record,
    for resuming) and ``input`` (how records and errors name the input; default: the image path or
    URI, ``sha1:<16 hex>`` for bytes)."""

    image: str = "image"
    query: str | None = None
    aspect: str | None = None
    exclude: str | None = None
    key: str | None = None
    fingerprint: str | None = None
    input: str | None = None

    def names(self) -> list[str]:
        names = (self.image, self.query, self.aspect, self.exclude, self.key, self.fingerprint, self.input)
        return [n for n in names if n is not None]


@dataclass(frozen=True)
class _Item:
    """One input row: its job (the image as ``source``), the image value and its fingerprint, or
    the error that keeps it from running."""

    job: Job
    value: Any
    fingerprint: str = ""
    error: Exception | None = None


class CropActor:
    """Crops ``pyarrow.Table`` batches (see the module docstring).

    Args:
        spec: how to build the predictor (once, here).
        options: what to make of every input (ratios, k, size, fit, query...); a row's own
            query / aspect replace the run's.
        columns: input column names.
        output: folder (local path) or URI (``s3://bucket/prefix``) for the crop files and
            records, named as the local batch runner names them; ``None`` = write nothing.
        protected: resolved local paths never to be written (inputs inside the output folder).
        hint: a front end's suffix for failure reasons (the command line's option hints), a
            module-level function so that it travels to the actors.
    """

    def __init__(
        self, spec: PredictorSpec, options: RunOptions, columns: Columns, output: str | None = None,
        protected: Sequence[str] = (), hint: Callable[[BaseException], str] | None = None,
    ) -> None:
        self.columns = columns
        self.remote = RemoteFolder(output) if output is not None and is_uri(output) else None
        self.staging = Path(tempfile.mkdtemp(prefix="promptcrop-out-")) if self.remote else None
        out_dir = self.staging or Path(output or tempfile.gettempdir())
        self.write = output is not None
        self.protected = frozenset(Path(p) for p in protected)
        self.runner = BatchRunner(spec.build(), options, out_dir, progress=False, hint=hint)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        items = [self._item(row) for row in batch.to_pylist()]
        rows = []
        for item, loading in prefetch(items, self._load, depth=self.runner.options.prefetch, workers=2):
            rows.append(self._crop(item, loading))
            _fault_hook()
        return pa.Table.from_pylist(rows, schema=row_schema())

    def _item(self, row: dict[str, Any]) -> _Item:
        c = self.columns
        value = row.get(c.image)
        query = row.get(c.query) if c.query else None
        source = (row.get(c.input) if c.input else None) or _source_id(value)
        try:
            if query is not None and not isinstance(query, str):
                raise RequestError(f"'{c.query}' must be text, got {type(query).__name__}")
            query = (query.strip() or None) if query else None
            aspects = row_aspects(row.get(c.aspect)) if c.aspect else None
            exclude = row_exclude(row.get(c.exclude)) if c.exclude else ()
            if value is None:
                raise RequestError(f"no image in column '{c.image}'")
        except ValueError as exc:
            return _Item(Job(source, _default_key(source, None, None)), value, error=exc)
        key = row.get(c.key) if c.key else None
        job = Job(source=source, key=key or _default_key(source, query, aspects), query=query, aspects=aspects,
                  exclude=exclude)
        return _Item(job, value, (row.get(c.fingerprint) or "") if c.fingerprint else "")

    def _load(self, item: _Item) -> LoadedImage:
        if item.error is not None:
            raise item.error
        value, max_pixels = item.value, self.runner.predictor.max_pixels
        if isinstance(value, str) and is_uri(value):
            value = read_uri(value)
        if not isinstance(value, (str, bytes, bytearray)):
            raise RequestError(f"the image column must hold paths, URIs or encoded bytes, got {type(value).__name__}")
        return load_image(value, max_pixels=max_pixels)

    def _crop(self, item: _Item, loading: Future[LoadedImage]) -> dict[str, Any]:
        job = item.job
        try:
            record = self.runner.crop(job, item.fingerprint, loading.result(), self.protected, write=self.write)
            if self.remote is not None:
                self._upload(job, record)
        except Exception as exc:  # noqa: BLE001 - one bad input never fails the task
            return {"input": job.source, "key": job.key, "mode": None, "crops": [], "error": self.runner.reason(exc),
                    "record": None}
        crops = [{name: crop.get(name) for name in CROP_FIELDS} for crop in record["crops"]]
        return {"input": job.source, "key": job.key, "mode": record["mode"], "crops": crops, "error": None,
                "record": json.dumps(record, ensure_ascii=False)}

    def _upload(self, job: Job, record: dict[str, Any]) -> None:
        """Move the staged files of ``job`` to the remote folder, the record last."""
        if self.staging is None or self.remote is None:
            return
        folder = PurePosixPath(job.key).parent
        record_name = OutputPaths(self.staging, job.key).record.name
        names = [(folder / name).as_posix() for name in [*record_files(record), record_name]]
        self.remote.upload(self.staging, names)


def _source_id(value: Any) -> str:
    """How an input is named: its path / URI, or ``sha1:<16 hex>`` of its bytes."""
    if isinstance(value, (bytes, bytearray)):
        return "sha1:" + hashlib.sha1(value).hexdigest()[:16]
    return str(value) if value is not None else "<none>"


def _default_key(source: str, query: str | None, aspects: tuple[str, ...] | None) -> str:
    """``<file stem>-<8 hex>``: the hash of source, query and ratios keeps keys apart across a whole
    data set (equal stems in different folders or buckets) and equal from one run to the next."""
    stem = PurePosixPath(source.split("://", 1)[-1]).stem if not source.startswith("sha1:") else "image"
    digest = hashlib.sha1(json.dumps([source, query, aspects]).encode("utf-8")).hexdigest()[:8]
    return f"{stem or 'image'}-{digest}"


def _fault_hook() -> None:
    marker = os.environ.get(FAULT_ENV)
    if not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(1)
