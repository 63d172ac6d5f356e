"""The engine choice of `crop` / `batch` (promptcrop.cli.engine) and Parquet manifests: what works without starting Ray."""

from __future__ import annotations

import sys

import pytest

from image_files import write_photo
from optional import require
from promptcrop.batch import jobs_from_manifest
from promptcrop.cli import main
from promptcrop.distributed.runtime import actor_pool, ray_failure
from promptcrop.errors import DatasetError, RequestError


def test_engine_ray_without_ray_installed_says_how_in_one_line(tmp_path, capsys, monkeypatch):
    write_photo(tmp_path / "in" / "a.jpg")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--engine", "ray", "--offline"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "promptcrop: error: the Ray engine needs Ray Data: pip install 'promptcrop[ray]'\n"
    assert not (tmp_path / "out").exists()


def test_ray_options_need_the_ray_engine(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    assert main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--concurrency", "2"]) == 2
    assert "--concurrency only apply with --engine ray" in capsys.readouterr().err


def test_parquet_manifest_file_and_folder_with_the_local_engine(tmp_path, capsys):
    pa = require("pyarrow")
    import pyarrow.parquet as pq

    for i in range(3):
        write_photo(tmp_path / "data" / "img" / f"p{i}.jpg", 96, 64, seed=i)
    table = pa.table({"image": ["img/p0.jpg", "img/p1.jpg", "img/missing.jpg", None],
                      "aspect": ["1:1", None, None, None], "extra": [1, 2, 3, 4]})
    pq.write_table(table, tmp_path / "data" / "part-0.parquet")
    second = pa.table({"image": ["img/p2.jpg"], "aspect": [["16:9", "1:1"]]})
    pq.write_table(second, tmp_path / "data" / "part-1.parquet")

    jobs, bad = jobs_from_manifest(tmp_path / "data")
    assert [(j.key, j.aspects, j.origin) for j in jobs] == [
        ("img/p0", ("1:1",), "part-0.parquet:1"), ("img/p1", None, "part-0.parquet:2"),
        ("img/missing", None, "part-0.parquet:3"), ("img/p2", ("16:9", "1:1"), "part-1.parquet:1")]
    assert [(b.label, b.reason) for b in bad] == [("part-0.parquet:4", "missing 'image' (the image path)")]

    code = main(["batch", str(tmp_path / "data"), "-o", str(tmp_path / "out"), "--offline", "-k", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "5 inputs: 3 cropped, 0 already done, 2 failed" in out
    assert sorted(p.name for p in (tmp_path / "out" / "img").glob("*.json")) == ["p0.json", "p1.json", "p2.json"]

    jobs, bad = jobs_from_manifest(tmp_path / "data" / "part-1.parquet")
    assert [j.key for j in jobs] == ["img/p2"] and not bad
    pq.write_table(pa.table({"path": ["x.jpg"]}), tmp_path / "nope.parquet")
    with pytest.raises(DatasetError, match="needs an 'image' column"):
        jobs_from_manifest(tmp_path / "nope.parquet")


def test_a_failed_ray_job_is_named_by_its_innermost_error():
    report = ("The actor died because of an error raised in its creation task, ray::MapWorker.__init__()\n"
              "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
              "ray.exceptions.RayTaskError: wrapped\n"
              "promptcrop.errors.ModelUnavailableError: /nonexistent: no OWL-ViT model there\n")
    assert ray_failure(RuntimeError(report)) == "ModelUnavailableError: /nonexistent: no OWL-ViT model there"
    assert ray_failure(RuntimeError("lost\nmore")) == "lost" and ray_failure(RuntimeError()) == "RuntimeError"


def test_actor_pool_leaves_cpus_for_the_read_tasks():
    assert actor_pool(None, cluster={"CPU": 2.0}) == actor_pool(2, cluster={"CPU": 2.0})
    pool = actor_pool(None, cluster={"CPU": 2.0})
    assert (pool.size, pool.num_cpus) == (2, 0.5)
    assert actor_pool(1, cluster={"CPU": 2.0}).num_cpus == 1.0
    assert actor_pool(None, cluster={"CPU": 16.0}).num_cpus == pytest.approx(0.9)
    gpu = actor_pool(None, num_gpus=0.5, cluster={"CPU": 8.0, "GPU": 2.0})
    assert (gpu.size, gpu.num_gpus) == (4, 0.5)
    assert actor_pool((1, 4), cluster={"CPU": 8.0}).size == (1, 4)
    for bad in (0, (3, 2), (1,), 1.5):
        with pytest.raises(RequestError):
            actor_pool(bad, cluster={"CPU": 2.0})
