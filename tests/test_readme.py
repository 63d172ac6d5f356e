"""The README's Python example runs as written, against a local model directory."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from paths import REPO_ROOT


def test_readme_python_example_runs(tiny_owlvit_dir, tmp_path, monkeypatch, no_network):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, flags=re.S).group(1)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(photo)
    # The example's two settings, pointed at a local model directory and a real file.
    code, n_model = re.subn(r'^MODEL = .*$', f"MODEL = {str(tiny_owlvit_dir)!r}", code, flags=re.M)
    code, n_photo = re.subn(r'^PHOTO = .*$', f"PHOTO = {str(photo)!r}", code, flags=re.M)
    assert n_model == 1 and n_photo == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    with Image.open(tmp_path / "best.jpg") as best:
        assert best.width / best.height == 1.0 or abs(best.width - best.height) <= 1
