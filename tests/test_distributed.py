"""distributed: the Ray Data engine gives the local engine's records, errors and files.

One local Ray (2 CPUs) for the module, started inside the loopback-only namespace that
``make test-ray`` provides (see ray_support).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from promptcrop.batch import ERRORS_FILE, RunOptions, jobs_from_folder, jobs_from_manifest, run_jobs
from promptcrop.distributed import Columns, PredictorSpec, crop_dataset
from promptcrop.distributed.actor import FAULT_ENV
from promptcrop.distributed.engine import RayBatchRunner, RayOptions
from promptcrop.distributed.table import RECORDS_FILE, read_records_parquet
from promptcrop.options import PredictorOptions
from promptcrop.request import CropRequest
from ray_support import BAD_FILES, file_names, photo_folder, ray_temp_dir, records, require_isolated_network

pytestmark = pytest.mark.ray

OPTIONS = RunOptions(request=CropRequest.build(k=2, aspect=["1:1", "16:9"]))


@pytest.fixture(scope="module")
def fault_marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fault hook's marker: present = spent; a test deletes it to kill one actor."""
    marker = tmp_path_factory.mktemp("fault") / "killed"
    marker.touch()
    return marker


@pytest.fixture(scope="module")
def ray_local(fault_marker: Path):
    require_isolated_network()
    import ray

    with ray_temp_dir() as temp:
        ray.init(num_cpus=2, _temp_dir=temp, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {FAULT_ENV: str(fault_marker)}})
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_folder(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def local_reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local engine's output for ``photos`` (offline mode)."""
    out = tmp_path_factory.mktemp("local")
    summary = run_jobs(jobs_from_folder(photos), PredictorSpec(PredictorOptions(model=None, offline=True)).build(), OPTIONS, out,
                       progress=False)
    assert (summary.written, summary.failed) == (27, 3)
    return out


def _ray_run(jobs, out: Path, spec: PredictorSpec, options: RunOptions = OPTIONS, bad_rows=(), **ray_options):
    runner = RayBatchRunner(spec.build(), spec, options, out, ray_options=RayOptions(quiet=True, **ray_options))
    return runner.run(jobs, bad_rows)


def test_folder_with_bad_files_equals_the_local_engine(ray_local, photos, local_reference, tmp_path):
    out = tmp_path / "ray"
    summary = _ray_run(jobs_from_folder(photos), out, PredictorSpec(PredictorOptions(model=None, offline=True)), batch_size=4)
    assert (summary.total, summary.written, summary.skipped, summary.failed) == (30, 27, 0, 3)
    assert records(out) == records(local_reference)
    assert file_names(out) == sorted([*file_names(local_reference), RECORDS_FILE])
    assert (out / ERRORS_FILE).read_text() == (local_reference / ERRORS_FILE).read_text()
    failed = [json.loads(line)["input"] for line in (out / ERRORS_FILE).read_text().splitlines()]
    assert sorted(Path(p).name for p in failed) == sorted(BAD_FILES)
    for name in file_names(local_reference):  # crop files byte for byte
        if not name.endswith((".json", ".jsonl")):
            assert (out / name).read_bytes() == (local_reference / name).read_bytes(), name
    # records.parquet round-trips the JSON records
    on_disk = {r["input"]: r for r in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    assert {r["input"]: r for r in read_records_parquet(out / RECORDS_FILE)} == on_disk

    # a rerun skips everything and starts no job
    again = _ray_run(jobs_from_folder(photos), out, PredictorSpec(PredictorOptions(model=None, offline=True)))
    assert (again.written, again.skipped, again.failed) == (0, 27, 3)


def test_crop_dataset_rows_match_the_local_records(ray_local, photos, local_reference, tmp_path):
    import ray

    paths = sorted(str(p) for p in photos.iterdir())
    ds = ray.data.from_items([{"image": p} for p in paths])
    rows = crop_dataset(ds, aspects=["1:1", "16:9"], k=2, predictor=PredictorOptions(offline=True), output=f"file://{tmp_path / 'out'}",
                        concurrency=2, batch_size=5).take_all()
    assert sorted(row["input"] for row in rows) == paths
    expected = {r["input"]: r for r in records(local_reference).values()}
    errors = {json.loads(line)["input"]: json.loads(line)["error"]
              for line in (local_reference / ERRORS_FILE).read_text().splitlines()}
    for row in rows:
        if row["input"] in errors:
            assert row["error"] == errors[row["input"]] and row["crops"] == [] and row["record"] is None
            continue
        local = expected[row["input"]]
        assert row["error"] is None and row["mode"] == local["mode"] == "offline"
        assert row["crops"] == [{k: c[k] for k in ("ratio", "rank", "box", "score", "size", "file")}
                                for c in _renamed(local["crops"], row["key"])]
        for crop in row["crops"]:  # written through the pyarrow file system, the local runner's bytes
            written = (tmp_path / "out" / row["key"]).with_name(crop["file"])
            local_file = (local_reference / Path(row["input"]).stem).with_name(
                crop["file"].replace(row["key"], Path(row["input"]).stem, 1))
            assert written.read_bytes() == local_file.read_bytes()

    # encoded bytes in, no output: the same crops, no file names
    good = [p for p in paths if p in expected][:2]
    rows = crop_dataset(ray.data.from_items([{"data": Path(p).read_bytes()} for p in good]), image_column="data",
                        aspects=["1:1", "16:9"], k=2, predictor=PredictorOptions(offline=True)).take_all()
    assert sorted(r["input"] for r in rows) == sorted(f"sha1:{hashlib.sha1(Path(p).read_bytes()).hexdigest()[:16]}"
                                                      for p in good)
    by_crops = sorted(json.dumps([(c["box"], c["score"]) for c in r["crops"]]) for r in rows)
    assert by_crops == sorted(json.dumps([(c["box"], c["score"]) for c in expected[p]["crops"]]) for p in good)
    assert all(c["file"] is None for r in rows for c in r["crops"])


def _renamed(crops: list[dict], key: str) -> list[dict]:
    """The local record's crops with file names under another output key."""
    return [{**c, "file": key + c["file"][c["file"].index("."):]} for c in crops]


def test_per_row_text_queries_on_a_tiny_owlvit_equal_the_local_engine(ray_local, tiny_owlvit_dir, tmp_path):
    from image_files import write_photo

    lines = []
    for i, (query, aspect) in enumerate([("the red square", "1:1"), ("a dog", "16:9,4:5"), (None, None),
                                         ("two cats on a sofa", None), ("the red square", "3:2")]):
        write_photo(tmp_path / "in" / f"q{i}.jpg", 120, 80, seed=i)
        lines.append(json.dumps({"image": f"q{i}.jpg", "query": query, "aspect": aspect}))
    lines.append(json.dumps({"image": "missing.jpg", "query": "a dog"}))
    manifest = tmp_path / "in" / "list.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    spec = PredictorSpec(PredictorOptions(model=str(tiny_owlvit_dir), offline=True), conditioned=True)
    options = RunOptions(request=CropRequest.build(k=2, aspect="1:1"))

    jobs, bad = jobs_from_manifest(manifest)
    local = run_jobs(jobs, spec.build(), options, tmp_path / "local", bad_rows=bad, progress=False)
    summary = _ray_run(jobs, tmp_path / "ray", spec, options, bad, concurrency=1, batch_size=3)
    assert (summary.written, summary.failed) == (local.written, local.failed) == (5, 1)
    got, want = records(tmp_path / "ray"), records(tmp_path / "local")
    assert got == want
    assert {r["mode"] for r in got.values()} == {"zeroshot"} and any(r["phrases"] for r in got.values())


def test_an_actor_killed_mid_job_is_retried_and_every_record_arrives(ray_local, fault_marker, photos,
                                                                     local_reference, tmp_path):
    fault_marker.unlink()  # arm the hook: the first actor to finish an input dies
    summary = _ray_run(jobs_from_folder(photos), tmp_path / "ray", PredictorSpec(PredictorOptions(model=None, offline=True)),
                       concurrency=2, batch_size=3)
    assert fault_marker.exists(), "the fault hook did not fire"
    assert (summary.written, summary.failed) == (27, 3)
    assert records(tmp_path / "ray") == records(local_reference)


def test_missing_columns_and_bad_options_fail_before_running(ray_local):
    import ray

    ds = ray.data.from_items([{"path": "a.jpg"}])
    with pytest.raises(ValueError, match="no column 'image'"):
        crop_dataset(ds, predictor=PredictorOptions(offline=True))
    with pytest.raises(ValueError, match="aspect"):
        crop_dataset(ray.data.from_items([{"image": "a.jpg"}]), aspects=["0:1"], predictor=PredictorOptions(offline=True))
    assert Columns(image="img", query="q").names() == ["img", "q"]


def test_actors_that_cannot_start_fail_the_job_in_one_line(ray_local, tmp_path):
    from image_files import write_photo
    from promptcrop.errors import PromptcropError

    write_photo(tmp_path / "in" / "a.jpg")
    broken = PredictorSpec(PredictorOptions(model=str(tmp_path / "no-model"), offline=True), conditioned=True)  # as on a node without it
    runner = RayBatchRunner(PredictorSpec(PredictorOptions(model=None, offline=True)).build(), broken, OPTIONS, tmp_path / "out",
                            ray_options=RayOptions(concurrency=1, quiet=True))
    with pytest.raises(PromptcropError, match=r"^the Ray job failed: ModelUnavailableError: ") as failed:
        runner.run(jobs_from_folder(tmp_path / "in"))
    assert "\n" not in str(failed.value)
    assert not (tmp_path / "out" / RECORDS_FILE).exists()  # no half-written records.parquet
