"""What runs without the ``torch`` extra, in a process where PyTorch, transformers, SciPy,
scikit-image, spaCy and pyarrow cannot be imported (as in a fresh ``pip install promptcrop``):
the offline crop, ``serve --offline``, and a text-query crop on the ONNX backend from an export
directory — and every command that needs a missing extra says so in one line.

The fresh environment built from the wheel (``tests/test_fresh_env.py``, slow) checks the same
with nothing installed at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from image_files import write_photo
from onnx_exports import fp32_export, onnx_root, tiny_decoder_ckpt  # noqa: F401  (fixtures)
from optional import require
from serve_helpers import start_server

BLOCKED = ("torch", "transformers", "huggingface_hub", "safetensors", "scipy", "skimage", "spacy", "sklearn",
           "pyarrow", "ray", "onnx", "onnxscript")
"""What the torch-free process cannot import (onnxruntime and tokenizers stay: the onnx extra)."""
_RUN_CLI = (
    "import sys\n"
    f"for name in {BLOCKED!r}:\n"
    "    sys.modules[name] = None  # import raises ModuleNotFoundError, as when not installed\n"
    "from promptcrop.cli.main import main\n"
    "code = main()\n"
    f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {BLOCKED!r} and sys.modules[m] is not None)\n"
    "assert not loaded, loaded\n"
    "sys.exit(code)\n"
)
COMMAND = (sys.executable, "-c", _RUN_CLI)


def _env() -> dict[str, str]:
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    return {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _promptcrop(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=180)


def _one_error_line(run: subprocess.CompletedProcess, expected: str) -> None:
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"promptcrop: error: {expected}"


def test_the_offline_crop_needs_no_torch(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", 240, 160)
    run = _promptcrop("crop", str(photo), "--offline", "-a", "1:1", "-k", "1", "--json", "-o", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["mode"] == "offline" and record["crops"][0]["size"] == [160, 160]


def test_serve_offline_answers_without_torch(tmp_path):
    require("fastapi")
    server = start_server(tmp_path, "--offline", entry=("-c", _RUN_CLI))
    try:
        photo = write_photo(tmp_path / "photo.png", 200, 120).read_bytes()
        answer = httpx.post(server.url + "/v1/crops", files={"image": ("p.png", photo)}, data={"aspect": "1:1"},
                            timeout=60)
        assert answer.status_code == 200 and answer.json()["crops"][0]["size"] == [120, 120]
    finally:
        assert server.stop() == 0, server.log()  # the process checks that nothing blocked was loaded


def test_a_text_query_on_the_onnx_backend_needs_no_torch(tmp_path, fp32_export, tiny_owlvit_dir,  # noqa: F811
                                                         tiny_decoder_ckpt):  # noqa: F811
    require("onnxruntime")
    require("tokenizers")
    photo = write_photo(tmp_path / "photo.jpg", 240, 160)
    base = ["crop", str(photo), "--backend", "onnx", "--onnx-dir", str(fp32_export), "--model", str(tiny_owlvit_dir),
            "-a", "1:1", "-k", "2", "--json", "-o", "out"]
    zeroshot = _promptcrop(*base, "-q", "a red square", cwd=tmp_path)
    assert zeroshot.returncode == 0, zeroshot.stderr
    record = json.loads(zeroshot.stdout)
    assert record["mode"] == "zeroshot" and record["phrases"] and record["grounding"]
    # without spaCy (the keywords extra) one warning line says where the keywords come from
    assert all(line.startswith("promptcrop: ") for line in zeroshot.stderr.strip().splitlines()), zeroshot.stderr
    assert "pip install 'promptcrop[keywords]'" in zeroshot.stderr
    clipcrop = _promptcrop(*base, "-q", "a red square", "--decoder", str(tiny_decoder_ckpt), cwd=tmp_path)
    assert clipcrop.returncode == 0, clipcrop.stderr
    assert json.loads(clipcrop.stdout)["mode"] == "clipcrop"


@pytest.mark.parametrize(("args", "expected"), [
    (["crop", "PHOTO", "-q", "the cat"], "text and image queries need PyTorch: pip install 'promptcrop[torch]'"),
    (["train", "--data-root", "gaic", "--out", "run"], "promptcrop train needs PyTorch: pip install 'promptcrop[torch]'"),
    (["export-onnx", "--out", "x"], "promptcrop export-onnx needs PyTorch: pip install 'promptcrop[torch]'"),
    (["batch", "list.parquet", "-o", "out", "--offline"],
     "list.parquet: Parquet manifests need pyarrow: pip install 'promptcrop[parquet]'"),
    (["demo", "-o", "demo"], "promptcrop demo needs the sample photos of scikit-image: pip install 'promptcrop[demo]'"),
])
def test_a_missing_extra_is_one_line_naming_it(tmp_path, args, expected):
    photo = write_photo(tmp_path / "photo.jpg", 64, 48)
    (tmp_path / "list.parquet").write_bytes(b"PAR1")
    run = _promptcrop(*[str(photo) if a == "PHOTO" else a for a in args], cwd=tmp_path)
    _one_error_line(run, expected)
