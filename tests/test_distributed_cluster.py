"""distributed on more than one Ray: a two-node cluster on this machine, and the command line's
driver killed mid-job then rerun (each Ray start isolated, inside the loopback-only namespace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptcrop.batch import RunOptions, jobs_from_folder
from promptcrop.cli import main
from promptcrop.distributed import PredictorSpec
from promptcrop.distributed.engine import RayBatchRunner, RayOptions
from promptcrop.distributed.table import RECORDS_FILE, read_records_parquet
from promptcrop.options import PredictorOptions
from promptcrop.request import CropRequest
from ray_support import file_names, photo_folder, ray_temp_dir, records, require_isolated_network

pytestmark = pytest.mark.ray

ARGS = ["-a", "1:1", "-a", "16:9", "-k", "2", "--offline", "--quiet"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_folder(tmp_path_factory.mktemp("photos"), 40, size=(240, 180))


@pytest.fixture(scope="module")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local engine's output, through the command line."""
    out = tmp_path_factory.mktemp("local")
    assert main(["batch", str(photos), "-o", str(out), *ARGS]) == 1  # 3 bad files
    return out


def test_a_two_node_cluster_gives_the_local_results(photos, reference, tmp_path, monkeypatch):
    require_isolated_network()
    import ray
    from ray.cluster_utils import Cluster

    with ray_temp_dir() as temp:
        monkeypatch.setenv("RAY_TMPDIR", temp)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, log_to_driver=False)
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
            spec = PredictorSpec(PredictorOptions(model=None, offline=True))
            options = RunOptions(request=CropRequest.build(k=2, aspect=["1:1", "16:9"]))
            runner = RayBatchRunner(spec.build(), spec, options, tmp_path / "out",
                                    ray_options=RayOptions(concurrency=2, batch_size=4, quiet=True))
            summary = runner.run(jobs_from_folder(photos))
        finally:
            ray.shutdown()
            cluster.shutdown()
    assert (summary.written, summary.failed) == (37, 3)
    assert records(tmp_path / "out") == records(reference)
    assert len(read_records_parquet(tmp_path / "out" / RECORDS_FILE)) == 37


def test_no_cluster_at_the_address_is_one_line(tmp_path, monkeypatch, capsys):
    require_isolated_network()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes((Path(__file__).parent / "image_files.py").read_bytes())
    with ray_temp_dir() as temp:
        monkeypatch.setenv("RAY_TMPDIR", temp)
        code = main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--offline", "--engine", "ray",
                     "--ray-address", "auto", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("promptcrop: error: cannot start or join the Ray cluster at auto: ")


def _wait_until_settled(out: Path, quiet_s: float = 2.0, limit_s: float = 30.0) -> None:
    """Return once no file under ``out`` has changed for ``quiet_s`` seconds."""
    deadline = time.time() + limit_s
    state = None
    while time.time() < deadline:
        now = sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file())
        if now == state:
            return
        state = now
        time.sleep(quiet_s)
    raise AssertionError(f"{out} still changes {limit_s} s after the driver was killed")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "promptcrop.cli", *args]


def test_the_driver_killed_mid_job_then_rerun_loses_and_redoes_nothing(photos, reference, tmp_path):
    require_isolated_network()
    out = tmp_path / "out"
    command = _cli("batch", str(photos), "-o", str(out), *ARGS, "--engine", "ray", "--concurrency", "1",
                   "--batch-size", "2")
    with ray_temp_dir() as temp:
        env = {**os.environ, "RAY_TMPDIR": temp, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and len(list(out.glob("*.json"))) < 4:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
        proc.wait(timeout=30)
        _wait_until_settled(out)  # a worker may finish the input it holds while Ray goes down
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert 4 <= len(done) < 37, "the job finished before it could be killed: use more or larger inputs"

    with ray_temp_dir() as temp:
        env = {**os.environ, "RAY_TMPDIR": temp, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # the 3 bad files
    assert f"40 inputs: {37 - len(done)} cropped, {len(done)} already done, 3 failed" in rerun.stdout
    assert {name: (out / name).stat().st_mtime_ns for name in done} == done  # nothing redone
    assert records(out) == records(reference)  # nothing lost
    assert file_names(out) == sorted([*file_names(reference), RECORDS_FILE])
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left
    assert len(read_records_parquet(out / RECORDS_FILE)) == 37
