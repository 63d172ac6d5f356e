"""Batch inputs as :class:`Job` s: a folder (:func:`jobs_from_folder`, recursive, image files
only), a manifest (:func:`jobs_from_manifest`, ``.jsonl``, ``.csv`` or Parquet) or a list of paths
(:func:`jobs_from_paths`). Every manifest format gives the same jobs for the same rows: the fields
a row may carry are the :class:`Job` fields of :data:`ROW_FIELDS`.

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

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from promptcrop import boxes as B
from promptcrop.errors import DatasetError, RequestError
from promptcrop.extras import missing_message
from promptcrop.images import is_image_path

PARQUET_SUFFIX = ".parquet"
MANIFEST_SUFFIXES = (".jsonl", ".csv", PARQUET_SUFFIX)
# Output file names (outputs.OutputPaths): "<stem>.<rank>.<W>x<H>.<ext>" and "<stem>.overlay.png".
_OUTPUT_NAME = re.compile(r"^(?P<stem>.+?)(?:\.\d+\.\d+x\d+(?:-\d+)?\.[A-Za-z]+|\.overlay\.png)$")


def _column(name: str) -> dict[str, str]:
    """Field metadata: the manifest column a :class:`Job` field is read from."""
    return {"column": name}


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """One input to crop.

    - ``source``: the image path (as given, or resolved against the manifest's folder).
    - ``key``: where its outputs go, relative to the output folder, without suffix.
    - ``query``: a per-input text query (manifest), overriding the run's query.
    - ``aspects``: per-input ratio labels (manifest), overriding the run's ratios.
    - ``exclude``: per-input descriptions of what to leave out (manifest), added to the run's.
    - ``origin``: ``"manifest.jsonl:12"`` for manifest rows, for error messages.
    """

    source: str = field(metadata=_column("image"))
    key: str
    query: str | None = field(default=None, metadata=_column("query"))
    aspects: tuple[str, ...] | None = field(default=None, metadata=_column("aspect"))
    origin: str | None = None
    exclude: tuple[str, ...] = field(default=(), metadata=_column("exclude"))

    @property
    def label(self) -> str:
        """How errors name this input."""
        return f"{self.origin} ({self.source})" if self.origin else self.source


#: Manifest column → :class:`Job` field, from the Job's own fields: every manifest format (JSONL,
#: CSV, Parquet) reads these columns and no others.
ROW_FIELDS: dict[str, str] = {f.metadata["column"]: f.name for f in fields(Job) if "column" in f.metadata}


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
    ``query`` (optional), ``aspect`` (optional: ``"16:9"``, ``"16:9,1:1"`` or a JSON list),
    ``exclude`` (optional: what to leave out, ``"the watermark; the man on the left"`` or a JSON
    list; added to the run's ``--exclude``, and like it needs the OWL-ViT weights).
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
    import csv  # here: only CSV manifests need it, and a one-photo crop's start pays every import

    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "image" not in reader.fieldnames:
        raise DatasetError(f"{path}: the CSV manifest needs a header row with an 'image' column")
    for row in reader:
        yield reader.line_num, row


def _parquet_rows(path: Path) -> list[tuple[str, int, Any]]:
    """``(file name, row number from 1, {column: value})`` of a Parquet file or every ``.parquet``
    file of a folder (sorted), reading only the columns of :data:`ROW_FIELDS`."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(f"{path}: " + missing_message("Parquet manifests need", "pyarrow")) from None
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == PARQUET_SUFFIX) if path.is_dir() else [path]
    rows: list[tuple[str, int, Any]] = []
    for file in files:
        try:
            table = pq.ParquetFile(file)
            names = set(table.schema_arrow.names)
            if "image" not in names:
                raise DatasetError(f"{file}: the Parquet manifest needs an 'image' column")
            columns = [c for c in ROW_FIELDS if c in names]
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
    exclude = row_exclude(row.get("exclude"))
    path = Path(image.strip())
    full = path if path.is_absolute() else base / path
    try:
        preferred = full.resolve().relative_to(base.resolve()).with_suffix("").as_posix()
    except ValueError:
        preferred = full.stem
    query = query.strip() if query and query.strip() else None
    ident = json.dumps([str(full.resolve()), query, aspects, exclude])
    job = Job(source=os.fspath(full), key=preferred, query=query, aspects=aspects, origin=origin, exclude=exclude)
    return job, ident


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


def row_exclude(value: Any) -> tuple[str, ...]:
    """A row's ``exclude``: nothing, ``"a; b"`` (a CSV cell) or a JSON list of texts."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(";") if part.strip())
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    raise RequestError(f"'exclude' must be text like \"the watermark; the logo\" or a list of texts, got {value!r}")


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
            import hashlib  # rarely needed here, and its import loads OpenSSL

            digest = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:8]
            job = dataclasses.replace(job, key=f"{job.key}-{digest}")
        out.append(job)
    return out


