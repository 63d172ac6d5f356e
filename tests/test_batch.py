"""batch: input discovery, manifests, output keys, the runner (errors, resume, temporaries, prefetch).

Runs in the weight-free offline mode: no model, no network.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import pytest

from image_files import FAILING, mixed_folder, write_photo
from promptcrop.batch import (
    ERRORS_FILE,
    Job,
    RunOptions,
    jobs_from_folder,
    jobs_from_manifest,
    jobs_from_paths,
    prepare_output_dir,
    run_jobs,
)
from promptcrop.batch.jobs import ROW_FIELDS
from promptcrop.errors import DatasetError, PromptcropError
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest


@pytest.fixture(scope="module")
def offline() -> Predictor:
    return Predictor(model=None, mode="offline")


def _records(out: Path) -> dict[str, dict]:
    return {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in sorted(out.rglob("*.json"))}


# --------------------------------------------------------------------------- discovery and keys


def test_folder_jobs_mirror_subfolders_and_skip_non_images(tmp_path):
    outcome = mixed_folder(tmp_path / "in")
    jobs = jobs_from_folder(tmp_path / "in")
    keys = {j.key for j in jobs}
    expected = {name.rsplit(".", 1)[0] for name, what in outcome.items() if what != "ignored"}
    assert keys == expected
    assert "good" in keys and "sub/good" in keys  # same stem, different folders: no collision
    assert all(not Path(j.source).name.startswith(".") for j in jobs)


def test_same_stem_same_folder_gets_a_stable_suffix(tmp_path):
    write_photo(tmp_path / "a.jpg")
    write_photo(tmp_path / "a.png")
    write_photo(tmp_path / "b.png")
    first = {Path(j.source).name: j.key for j in jobs_from_folder(tmp_path)}
    again = {Path(j.source).name: j.key for j in jobs_from_folder(tmp_path)}
    assert first == again and first["b.png"] == "b"
    assert first["a.jpg"] != first["a.png"] and all(first[n].startswith("a-") for n in ("a.jpg", "a.png"))


def test_output_folder_inside_the_input_is_not_scanned(tmp_path, offline):
    write_photo(tmp_path / "a.jpg")
    out = tmp_path / "out"
    assert run_jobs(jobs_from_folder(tmp_path, out), offline, RunOptions(request=CropRequest.build(k=2)), out, progress=False).exit_code == 0
    assert [j.key for j in jobs_from_folder(tmp_path, out)] == ["a"]


def test_writing_into_the_input_folder_skips_own_outputs_on_rerun(tmp_path, offline):
    write_photo(tmp_path / "a.jpg")
    first = run_jobs(jobs_from_folder(tmp_path, tmp_path), offline, RunOptions(request=CropRequest.build(k=2)), tmp_path, progress=False)
    assert first.written == 1 and len(list(tmp_path.glob("a.*.jpg"))) >= 1
    jobs = jobs_from_folder(tmp_path, tmp_path)
    assert [j.key for j in jobs] == ["a"]
    assert run_jobs(jobs, offline, RunOptions(request=CropRequest.build(k=2)), tmp_path, progress=False).skipped == 1


def test_paths_with_the_same_stem_do_not_collide(tmp_path):
    a, b = write_photo(tmp_path / "x" / "p.jpg"), write_photo(tmp_path / "y" / "p.jpg")
    jobs = jobs_from_paths([a, b])
    assert len({j.key for j in jobs}) == 2 and all(j.key.startswith("p-") for j in jobs)
    assert [j.key for j in jobs_from_paths([a])] == ["p"]


def test_jsonl_manifest_rows_bad_rows_and_keys(tmp_path):
    write_photo(tmp_path / "imgs" / "a.jpg")
    outside = write_photo(tmp_path.parent / f"{tmp_path.name}-outside" / "far.png")
    manifest = tmp_path / "list.jsonl"
    rows = [
        json.dumps({"image": "imgs/a.jpg", "query": "the cat", "aspect": "1:1,16:9"}),
        json.dumps({"image": "imgs/a.jpg", "query": "the dog"}),
        json.dumps({"image": "imgs/a.jpg", "query": "the dog"}),  # exact duplicate: once
        "",
        "{broken json",
        json.dumps({"query": "no image"}),
        json.dumps({"image": "imgs/a.jpg", "aspect": "16:0"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"image": str(outside), "aspect": ["4:5"]}),
    ]
    manifest.write_text("\n".join(rows) + "\n")
    jobs, bad = jobs_from_manifest(manifest)
    assert [b.label for b in bad] == ["list.jsonl:5", "list.jsonl:6", "list.jsonl:7", "list.jsonl:8"]
    assert "JSON" in bad[0].reason and "image" in bad[1].reason and "16:0" in bad[2].reason
    assert [(j.query, j.aspects) for j in jobs] == [("the cat", ("1:1", "16:9")), ("the dog", None), (None, ("4:5",))]
    assert Path(jobs[0].source) == tmp_path / "imgs" / "a.jpg"
    assert jobs[0].key.startswith("imgs/a-") and jobs[1].key.startswith("imgs/a-") and jobs[0].key != jobs[1].key
    assert jobs[2].key == "far" and jobs[2].origin == "list.jsonl:9"
    assert jobs_from_manifest(manifest)[0] == jobs  # stable names from one run to the next


def test_manifest_exclude_field_is_added_to_the_runs(tmp_path):
    write_photo(tmp_path / "a.jpg")
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"image": "a.jpg", "exclude": ["the watermark", " the logo "]},
        {"image": "a.jpg", "exclude": "the flag"},
        {"image": "a.jpg", "exclude": ["the flag", ""]},
        {"image": "a.jpg", "exclude": 3},
    ]) + "\n")
    jobs, bad = jobs_from_manifest(jsonl)
    assert [j.exclude for j in jobs] == [("the watermark", "the logo"), ("the flag",)]
    assert jobs[0].key != jobs[1].key  # different excludes are different outputs
    assert [b.label for b in bad] == ["m.jsonl:3", "m.jsonl:4"] and all("'exclude'" in b.reason for b in bad)
    csv_manifest = tmp_path / "m.csv"
    csv_manifest.write_text('image,exclude\na.jpg,"the man on the left, in red; the sign"\na.jpg,\n')
    jobs, bad = jobs_from_manifest(csv_manifest)
    assert [j.exclude for j in jobs] == [("the man on the left, in red", "the sign"), ()] and not bad
    options = RunOptions(request=CropRequest.build(k=1, exclude=["the sign", "the date"]))
    assert options.request_for(jobs[0]).exclude == ("the sign", "the date", "the man on the left, in red")
    assert options.request_for(jobs[1]).exclude == ("the sign", "the date")
    assert options.request_for(Job("a.jpg", "a", aspects=("1:1",), exclude=("x",))).labels == ("1:1",)


def test_jsonl_csv_and_parquet_manifests_give_the_same_jobs_for_the_same_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    write_photo(tmp_path / "a.jpg")
    write_photo(tmp_path / "sub" / "b.png")
    rows = [
        {"image": "a.jpg", "query": "the red square", "aspect": "16:9,1:1", "exclude": ["the logo", "the sign"]},
        {"image": "sub/b.png", "query": None, "aspect": None, "exclude": ["the watermark"]},
        {"image": "a.jpg", "query": None, "aspect": "4:5", "exclude": []},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with open(tmp_path / "m.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "exclude": "; ".join(r["exclude"])} for r in rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "m.parquet")
    found = {}
    for name in ("m.jsonl", "m.csv", "m.parquet"):
        jobs, bad = jobs_from_manifest(tmp_path / name)
        assert not bad, bad
        found[name] = [dataclasses.replace(j, origin=None) for j in jobs]  # only the line numbers differ
    assert found["m.jsonl"] == found["m.csv"] == found["m.parquet"]
    expected = [
        (("the logo", "the sign"), "the red square", ("16:9", "1:1")),  # hand-written, not from the code
        (("the watermark",), None, None),
        ((), None, ("4:5",)),
    ]
    assert [(j.exclude, j.query, j.aspects) for j in found["m.parquet"]] == expected
    assert {Path(j.source).name for j in found["m.parquet"]} == {"a.jpg", "b.png"}
    assert set(ROW_FIELDS) == {"image", "query", "aspect", "exclude"}  # every column a manifest reads


def test_csv_manifest_and_missing_image_column(tmp_path):
    write_photo(tmp_path / "a.jpg")
    good = tmp_path / "m.csv"
    good.write_text('image,query,aspect\na.jpg,"the red square, left",16:9\n,orphan,\na.jpg,,\n')
    jobs, bad = jobs_from_manifest(good)
    assert [(j.query, j.aspects) for j in jobs] == [("the red square, left", ("16:9",)), (None, None)]
    assert [b.label for b in bad] == ["m.csv:3"]
    headless = tmp_path / "h.csv"
    headless.write_text("path,query\na.jpg,x\n")
    with pytest.raises(DatasetError, match="image"):
        jobs_from_manifest(headless)
    with pytest.raises(DatasetError, match="jsonl"):
        jobs_from_manifest(tmp_path / "m.txt")


# --------------------------------------------------------------------------- running


def test_mixed_folder_bad_inputs_are_reported_and_the_rest_done(tmp_path, offline):
    outcome = mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    summary = run_jobs(jobs_from_folder(tmp_path / "in", out), offline, RunOptions(request=CropRequest.build(k=2, aspect="1:1")), out,
                       progress=False)
    ok = sorted(n for n, w in outcome.items() if w == "ok")
    failed = sorted(n for n, w in outcome.items() if w == "fail")
    assert (summary.written, summary.failed, summary.exit_code) == (len(ok), len(failed), 1)
    assert sorted(_records(out)) == sorted(n.rsplit(".", 1)[0] + ".json" for n in ok)
    errors = [json.loads(line) for line in (out / ERRORS_FILE).read_text().splitlines()]
    assert sorted(Path(e["input"]).name for e in errors) == sorted(Path(n).name for n in failed)
    reasons = {Path(e["input"]).name: e["error"] for e in errors}
    assert reasons["empty.png"] == "empty file" and reasons["broken-link.jpg"] == "file not found"
    assert "not an image" in reasons["fake.png"]
    assert set(FAILING) <= set(reasons)
    rotated = _records(out)["rotated.json"]
    assert rotated["image_size"] == [64, 96] and rotated["exif_orientation"] == 6
    assert all(c["box"][2] <= 64 and c["box"][3] <= 96 for c in rotated["crops"])
    assert not list(Path(tmp_path / "in").glob("*.json"))  # nothing written into the input folder


def test_resume_skips_complete_inputs_and_redoes_stale_ones(tmp_path, offline):
    for name in ("a", "b", "c"):
        write_photo(tmp_path / "in" / f"{name}.png", seed=ord(name))
    out = tmp_path / "out"
    opts = RunOptions(request=CropRequest.build(k=2, aspect="1:1"))
    jobs = jobs_from_folder(tmp_path / "in")
    assert run_jobs(jobs, offline, opts, out, progress=False).written == 3
    before = _records(out)

    stale_tmp = out / ".b.json.0123456789ab.tmp"
    stale_tmp.write_text("half")
    (out / before["b.json"]["crops"][0]["file"]).unlink()  # b incomplete
    write_photo(tmp_path / "in" / "c.png", seed=99)  # c changed (size/mtime)
    os.utime(tmp_path / "in" / "c.png", ns=(1, 1))
    summary = run_jobs(jobs, offline, opts, out, progress=False)
    assert (summary.skipped, summary.written, summary.failed) == (1, 2, 0)
    assert not stale_tmp.exists()
    after = _records(out)
    assert after["a.json"] == before["a.json"]
    assert after["b.json"]["fingerprint"] == before["b.json"]["fingerprint"]
    assert after["c.json"]["fingerprint"] != before["c.json"]["fingerprint"]

    assert run_jobs(jobs, offline, RunOptions(request=CropRequest.build(k=1, aspect="1:1")), out, progress=False).written == 3  # new options
    assert run_jobs(jobs, offline, RunOptions(request=CropRequest.build(k=1, aspect="1:1"), overwrite=True), out, progress=False).written == 3


def test_errors_file_lists_this_runs_failures_only(tmp_path, offline):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.png").write_bytes(b"")
    out = tmp_path / "out"
    assert run_jobs(jobs_from_folder(tmp_path / "in"), offline, RunOptions(request=CropRequest.build(k=1)), out, progress=False).failed == 1
    assert (out / ERRORS_FILE).is_file()
    write_photo(tmp_path / "in" / "bad.png")
    assert run_jobs(jobs_from_folder(tmp_path / "in"), offline, RunOptions(request=CropRequest.build(k=1)), out, progress=False).exit_code == 0
    assert not (out / ERRORS_FILE).exists()


def test_per_row_query_needs_weights_and_fails_alone(tmp_path, offline):
    write_photo(tmp_path / "a.png")
    jobs = [Job(source=str(tmp_path / "a.png"), key="plain"),
            Job(source=str(tmp_path / "a.png"), key="asked", query="the cat")]
    summary = run_jobs(jobs, offline, RunOptions(request=CropRequest.build(k=1)), tmp_path / "out", progress=False)
    assert (summary.written, summary.failed) == (1, 1)
    assert "query" in summary.errors[0]["error"]


def test_output_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PromptcropError, match="cannot write to the output folder"):
        prepare_output_dir(blocker / "out")


def test_run_options_are_validated():
    with pytest.raises(ValueError):
        RunOptions(request=CropRequest.build(k=0))
    with pytest.raises(ValueError):
        RunOptions(request=CropRequest.build(aspect=list(("16:0",))))
    with pytest.raises(ValueError):
        RunOptions(request=CropRequest.build(aspect="1:1", size="100x100"))
    with pytest.raises(ValueError):
        RunOptions(request=CropRequest.build(), query="x", query_image="y.png")
    with pytest.raises(ValueError):
        RunOptions(request=CropRequest.build(), prefetch=0)




class _Terminal:
    """A stderr that says it is a terminal and keeps what is written."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_the_automatic_progress_bar_shows_on_a_terminal_for_more_than_one_input(tmp_path, offline, monkeypatch):
    for name in ("a", "b"):
        write_photo(tmp_path / "in" / f"{name}.png")
    jobs = jobs_from_folder(tmp_path / "in")
    options = RunOptions(request=CropRequest.build(k=1))
    for count, shown in ((1, False), (2, True)):
        screen = _Terminal()
        monkeypatch.setattr("sys.stderr", screen)
        assert run_jobs(jobs[:count], offline, options, tmp_path / f"out{count}", progress=None).written == count
        assert (f"{count}/{count}" in screen.text) is shown, screen.text


def test_fingerprints_use_the_sha256_of_hashlib():
    import hashlib

    from promptcrop.batch import runner

    data = b'{"key": "photo"}'
    assert runner.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
