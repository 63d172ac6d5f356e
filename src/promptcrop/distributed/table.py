"""JSON records as an Arrow table: ``records.parquet`` and back.

:func:`record_schema` types every field of the record (:func:`promptcrop.results.build_record`, schema 1;
docs/OUTPUTS.md): lists of
ints for pixel sizes and crop boxes, floats for scores and regions, structs for crops and grounded
phrases, ``map<string, …>`` for the open-ended ``timings``, ``versions`` and ``explain``. Fields a
record leaves out (``overlay`` without one, ``pad_color`` of an unpadded crop...) are nulls in the
table, named in the row's (and each crop's) ``absent`` list, and left out again when read back, so
``table_to_records(records_to_table(r)) == r``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptcrop.errors import InternalError

RECORDS_FILE = "records.parquet"
ABSENT = "absent"
"""Column listing the record keys (top level, or of one crop) the record did not have."""
_MAPS = {"record": ("timings", "versions"), "crop": ("explain",)}


def record_schema() -> Any:
    """The ``pyarrow.Schema`` of one record per row."""
    import pyarrow as pa

    ints, floats = pa.list_(pa.int64()), pa.list_(pa.float64())
    crop = pa.struct([
        ("rank", pa.int64()), ("ratio", pa.string()), ("box", ints), ("score", pa.float64()), ("size", ints),
        ("file", pa.string()), ("fits", pa.bool_()), ("padded", pa.bool_()), ("pad_color", ints),
        ("explain", pa.map_(pa.string(), pa.float64())), (ABSENT, pa.list_(pa.string())),
    ])
    grounded = pa.struct([("phrase", pa.string()), ("box", floats), ("logit", pa.float64())])
    return pa.schema([
        ("schema", pa.int64()), ("input", pa.string()), ("image_size", ints), ("exif_orientation", pa.int64()),
        ("query", pa.string()), ("query_image", pa.string()), ("mode", pa.string()), ("region", floats),
        ("phrases", pa.list_(pa.string())), ("truncated", pa.list_(pa.string())),
        ("grounding", pa.list_(grounded)), ("fallback", pa.string()), ("crops", pa.list_(crop)),
        ("overlay", pa.string()),
        ("timings", pa.map_(pa.string(), pa.float64())), ("versions", pa.map_(pa.string(), pa.string())),
        ("fingerprint", pa.string()), (ABSENT, pa.list_(pa.string())),
    ])


def records_to_table(records: Sequence[dict[str, Any]]) -> Any:
    """Records → ``pyarrow.Table`` (:func:`record_schema`); ``InternalError`` when a record does not
    fit (the record layout changed without this schema)."""
    import pyarrow as pa

    schema = record_schema()
    crop_fields = [f.name for f in schema.field("crops").type.value_type]
    rows = [_to_row(r, schema.names, crop_fields) for r in records]
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InternalError(f"a record does not fit the records table: {exc}") from None


def table_to_records(table: Any) -> list[dict[str, Any]]:
    """``pyarrow.Table`` (as :func:`records_to_table` makes it) → records."""
    return [_from_row(row) for row in table.to_pylist()]


class RecordsWriter:
    """Streams records into a Parquet file, ``group`` records per row group, so that a job of
    millions of inputs never holds its records in memory.

    The file is written as ``.<name>.<pid>.partial`` beside ``path`` and renamed to ``path`` when
    the ``with`` block ends without an exception (else removed); partial files a killed run left
    are removed when the next writer opens. (The batch runner removes its own temporary names from
    the output folder while this file is open, hence a name of its own.)
    """

    def __init__(self, path: str | os.PathLike[str], group: int = 4096) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.group = group
        for stale in self.path.parent.glob(f".{self.path.name}.*.partial"):
            stale.unlink(missing_ok=True)
        self._partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self._rows: list[dict[str, Any]] = []
        self._writer = pq.ParquetWriter(self._partial, record_schema())

    def add(self, record: dict[str, Any]) -> None:
        self._rows.append(record)
        if len(self._rows) >= self.group:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(records_to_table(self._rows))
            self._rows = []

    def __enter__(self) -> RecordsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        complete = exc[0] is None
        try:
            if complete:
                self._flush()
        except BaseException:
            complete = False
            raise
        finally:
            self._writer.close()
            if complete:
                os.replace(self._partial, self.path)
            else:
                self._partial.unlink(missing_ok=True)


def write_records_parquet(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write ``records`` to a Parquet file atomically (a temporary file, then a rename)."""
    with RecordsWriter(path) as writer:
        for record in records:
            writer.add(record)


def read_records_parquet(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``records.parquet``."""
    import pyarrow.parquet as pq

    return table_to_records(pq.read_table(path))


def _to_row(record: dict[str, Any], fields: Sequence[str], crop_fields: Sequence[str]) -> dict[str, Any]:
    row = _maps_to_items(record, "record", fields)
    row["crops"] = [_maps_to_items(crop, "crop", crop_fields) for crop in record.get("crops", [])]
    return row


def _from_row(row: dict[str, Any]) -> dict[str, Any]:
    record = _items_to_maps(row, "record")
    record["crops"] = [_items_to_maps(crop, "crop") for crop in row.get("crops") or []]
    return record


def _maps_to_items(data: dict[str, Any], level: str, fields: Sequence[str]) -> dict[str, Any]:
    extra = set(data) - set(fields)
    if extra:
        raise InternalError(f"a record does not fit the records table: unknown keys {sorted(extra)}")
    out = dict(data)
    out[ABSENT] = [name for name in fields if name != ABSENT and name not in data]
    for name in _MAPS[level]:
        if out.get(name) is not None:
            out[name] = list(out[name].items())
    return out


def _items_to_maps(data: dict[str, Any], level: str) -> dict[str, Any]:
    absent = set(data.get(ABSENT) or ())
    out = {k: v for k, v in data.items() if k != ABSENT and k not in absent}
    for name in _MAPS[level]:
        if out.get(name) is not None:
            out[name] = dict(out[name])
    return out
