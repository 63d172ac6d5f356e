"""distributed.actor: the Ray worker's logic, called directly on pyarrow batches (no Ray needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from image_files import jpeg_bytes, write_photo
from optional import require
from promptcrop.batch import RunOptions
from promptcrop.distributed.actor import Columns, CropActor, PredictorSpec, row_schema
from promptcrop.distributed.storage import is_uri, read_uri
from promptcrop.errors import ImageLoadError
from promptcrop.options import PredictorOptions
from promptcrop.request import CropRequest

pa = require("pyarrow")

OPTIONS = RunOptions(request=CropRequest.build(k=1, aspect=["1:1", "16:9"]))
OFFLINE = PredictorSpec(PredictorOptions(model=None, offline=True))


def test_one_row_per_input_bad_ones_are_error_rows(tmp_path):
    good = write_photo(tmp_path / "a" / "photo.jpg", 120, 80)
    write_photo(tmp_path / "b" / "photo.jpg", 120, 80, seed=3)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    actor = CropActor(OFFLINE, OPTIONS, Columns(aspect="aspect"), output=f"file://{tmp_path / 'out'}")
    batch = pa.table({"image": [str(good), str(tmp_path / "b" / "photo.jpg"), str(tmp_path / "bad.jpg"),
                                str(tmp_path / "missing.jpg"), str(good)],
                      "aspect": [None, None, None, None, "0:1"]})
    out = actor(batch)
    assert out.schema == row_schema()
    rows = out.to_pylist()
    assert [r["error"] for r in rows[:2]] == [None, None]
    assert rows[0]["key"] != rows[1]["key"] and rows[0]["key"].startswith("photo-")  # same stem, two keys
    assert rows[2]["error"] == "not an image (unrecognised format)" and rows[2]["record"] is None
    assert rows[3]["error"] == "file not found"
    assert "0:1" in rows[4]["error"] and rows[4]["crops"] == []
    for row in rows[:2]:  # uploaded through the pyarrow file system: crops, then the record
        record = json.loads(row["record"])
        assert [c["ratio"] for c in row["crops"]] == ["1:1", "16:9"]
        assert all((tmp_path / "out" / c["file"]).is_file() for c in row["crops"])
        assert json.loads((tmp_path / "out" / f"{row['key']}.json").read_text()) == record
    assert not list(Path(actor.staging).rglob("*.*"))  # staged files are moved, not copied


def test_bytes_keys_queries_and_no_output(tmp_path):
    actor = CropActor(OFFLINE, OPTIONS, Columns(image="data", key="name", query="q"))
    rows = actor(pa.table({"data": [jpeg_bytes(96, 64), b""], "name": ["x/first", None],
                           "q": [None, None]})).to_pylist()
    assert rows[0]["key"] == "x/first" and rows[0]["input"].startswith("sha1:")
    assert all(c["file"] is None for c in rows[0]["crops"]) and "overlay" not in json.loads(rows[0]["record"])
    assert rows[1]["error"] == "empty data" and rows[1]["key"].startswith("image-")
    assert not (tmp_path / "x").exists()
    asked = CropActor(OFFLINE, OPTIONS, Columns(image="data", query="q"))
    row = asked(pa.table({"data": [jpeg_bytes()], "q": ["a dog"]})).to_pylist()[0]
    assert "query" in row["error"]  # the offline mode cannot follow a query: an error row, not a crash


def test_uris_and_their_errors(tmp_path):
    assert is_uri("s3://bucket/a.jpg") and is_uri("file:///tmp/a.jpg")
    assert not is_uri("/tmp/a.jpg") and not is_uri("C:\\photos\\a.jpg") and not is_uri("relative/a.jpg")
    (tmp_path / "a.bin").write_bytes(b"abc")
    assert read_uri(f"file://{tmp_path / 'a.bin'}") == b"abc"
    with pytest.raises(ImageLoadError) as missing:
        read_uri(f"file://{tmp_path / 'nope.jpg'}")
    assert (missing.value.reason, missing.value.kind) == ("file not found", "missing")


def test_a_rows_exclude_column_reaches_the_predictor(tmp_path, tiny_owlvit_dir):
    from promptcrop.predictor import Predictor

    photo = write_photo(tmp_path / "a.png", 120, 80)
    spec = PredictorSpec(PredictorOptions(model=str(tiny_owlvit_dir), offline=True), conditioned=True)
    actor = CropActor(spec, OPTIONS, Columns(exclude="exclude"))
    rows = actor(pa.table({"image": [str(photo), str(photo)],
                           "exclude": [["the watermark", "the man on the left"], []]})).to_pylist()
    expected = Predictor(model=str(tiny_owlvit_dir), local_files_only=True).predict(
        str(photo), aspect=["1:1", "16:9"], k=1, exclude=["the watermark", "the man on the left"])
    assert rows[0]["error"] is None
    assert [c["box"] for c in rows[0]["crops"]] == [list(c.box) for c in expected]
    assert rows[1]["error"] is None
