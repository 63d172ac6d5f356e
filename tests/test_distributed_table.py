"""distributed.table: records.parquet holds the JSON records exactly (no Ray needed, only pyarrow)."""

from __future__ import annotations

import json

import pytest

from image_files import write_photo
from optional import require
from promptcrop.batch import RunOptions, jobs_from_folder, run_jobs
from promptcrop.distributed.table import RecordsWriter, read_records_parquet, records_to_table, write_records_parquet
from promptcrop.errors import InternalError
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest

pq = require("pyarrow.parquet")


def _local_records(tmp_path, options: RunOptions, predictor: Predictor) -> list[dict]:
    for i, (w, h) in enumerate([(96, 64), (64, 96), (120, 60)]):
        write_photo(tmp_path / "in" / f"p{i}.png", w, h, seed=i)
    out = tmp_path / "out"
    assert run_jobs(jobs_from_folder(tmp_path / "in"), predictor, options, out, progress=False).exit_code == 0
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_offline_records_with_pads_overlay_and_explain_round_trip(tmp_path):
    options = RunOptions(request=CropRequest.build(k=2, aspect=["1:1", "16:9"], fit="pad"), overlay=True,
                         explain=True)
    found = _local_records(tmp_path, options, Predictor(model=None, mode="offline"))
    assert all(r["overlay"] and all("explain" in c for c in r["crops"]) for r in found)
    write_records_parquet(found, tmp_path / "records.parquet")
    assert read_records_parquet(tmp_path / "records.parquet") == found


def test_text_query_records_round_trip(tmp_path, tiny_owlvit_dir):
    options = RunOptions(request=CropRequest.build(k=1, size="64x64"), query="the red square")
    found = _local_records(tmp_path, options, Predictor(model=str(tiny_owlvit_dir), local_files_only=True))
    assert all(r["grounding"] and r["phrases"] for r in found)
    write_records_parquet(found, tmp_path / "records.parquet")
    assert read_records_parquet(tmp_path / "records.parquet") == found


def test_a_record_of_another_shape_is_refused():
    with pytest.raises(InternalError, match="does not fit"):
        records_to_table([{"schema": 1, "input": "a.jpg", "crops": [{"box": "not a box"}]}])
    with pytest.raises(InternalError, match="unknown keys"):
        records_to_table([{"schema": 1, "input": "a.jpg", "colour": "red"}])


def test_records_stream_in_row_groups_and_a_failed_run_leaves_no_file(tmp_path):
    found = _local_records(tmp_path, RunOptions(request=CropRequest.build(k=1)), Predictor(model=None, mode="offline"))
    with RecordsWriter(tmp_path / "r.parquet", group=2) as writer:
        for record in found:
            writer.add(record)
    assert pq.ParquetFile(tmp_path / "r.parquet").num_row_groups == 2
    assert read_records_parquet(tmp_path / "r.parquet") == found
    with pytest.raises(KeyboardInterrupt), RecordsWriter(tmp_path / "broken.parquet") as writer:
        writer.add(found[0])
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.parquet"]
