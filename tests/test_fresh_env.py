"""A fresh virtual environment WITHOUT PyTorch, built from the wheel with ``-c constraints.txt``:
``promptcrop crop --offline``, ``promptcrop serve --offline`` answering one request on 127.0.0.1,
and a text-query crop on the ONNX backend from a directory exported here (tiny OWL-ViT of
:mod:`promptcrop.testing`) all work there.

Slow (installs packages: minutes); ``make test-env`` runs it, and CI does. Needs the package index
or the machine's wheel cache.
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from image_files import write_photo
from paths import benchmark_module
from serve_helpers import start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh():
    with benchmark_module("fresh_env") as module:
        yield module


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory, fresh):
    """``promptcrop[serve,faces,onnx]`` in a new venv: the torch-free service / ONNX install."""
    root = tmp_path_factory.mktemp("fresh-env")
    wheel = fresh.build_wheel(root / "wheel")
    return fresh.make_env(root / "venv", wheel, fresh.INSTALLS["serve_faces_onnx"])


@pytest.fixture
def run(fresh, fresh_env, tmp_path):
    """``promptcrop ARGS`` of the fresh environment, in ``tmp_path``, with none of this process's paths."""

    def promptcrop(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(fresh_env.parent / "promptcrop"), *args], capture_output=True, text=True,
                              env={**fresh.clean_env(), "HF_HUB_OFFLINE": "1"}, cwd=tmp_path, timeout=300)

    return promptcrop


def test_the_fresh_environment_has_no_torch(fresh, fresh_env, tmp_path):
    probe = subprocess.run([str(fresh_env), "-c", "import importlib.util as u, promptcrop; "
                            "print([m for m in ('torch', 'transformers', 'scipy', 'skimage') if u.find_spec(m)], "
                            "promptcrop.__file__)"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                           env=fresh.clean_env())
    assert probe.returncode == 0, probe.stderr
    missing, location = probe.stdout.rsplit(" ", 1)
    assert missing == "[]" and str(fresh_env.parents[1]) in location  # the wheel's copy, not the checkout


def test_offline_crop_in_the_fresh_environment(run, tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", 320, 200)
    done = run("crop", str(photo), "--offline", "-a", "1:1", "-k", "1", "--json", "-o", "out")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["crops"][0]["size"] == [200, 200]


def test_serve_offline_in_the_fresh_environment(fresh_env, tmp_path):
    server = start_server(tmp_path, "--offline", python=str(fresh_env), own_sources=False)
    try:
        photo = write_photo(tmp_path / "photo.png", 200, 120).read_bytes()
        answer = httpx.post(server.url + "/v1/crops", files={"image": ("p.png", photo)}, data={"aspect": "1:1"},
                            timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["mode"] == "offline"
    finally:
        server.stop()


def test_onnx_text_query_in_the_fresh_environment(run, tmp_path, tiny_owlvit_dir):
    from optional import require

    require("onnxruntime")
    from promptcrop.backends.export import ExportConfig, export_onnx

    export = tmp_path / "onnx"
    export_onnx(str(tiny_owlvit_dir), export, config=ExportConfig(int8=False))  # with the dev venv's PyTorch
    photo = write_photo(tmp_path / "photo.jpg", 240, 160)
    done = run("crop", str(photo), "-q", "a red square", "--backend", "onnx", "--onnx-dir", str(export),
               "--model", str(tiny_owlvit_dir), "-a", "1:1", "-k", "1", "--json", "-o", "out")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["mode"] == "zeroshot" and record["grounding"] and record["crops"]
    refused = run("crop", str(photo), "-q", "a red square", "--model", str(tiny_owlvit_dir), "-o", "out2")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "promptcrop: error: text and image queries need PyTorch: pip install 'promptcrop[torch]'")
