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


def test_readme_starts_with_the_two_setup_commands():
    """A newcomer's first lines: `make demo` and `make test`, in the first code block."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```\w*\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def _relative_links(markdown: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_and_docs_links_resolve():
    """Every relative link of the README and of docs/*.md names a file of the repository."""
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    broken = [f"{page.relative_to(REPO_ROOT)} -> {target}"
              for page in pages for target in _relative_links(page.read_text(encoding="utf-8"))
              if not (page.parent / target).exists()]
    assert not broken, broken


def test_readme_links_every_page_of_docs():
    """The README is the way in: each page of docs/ is reachable from it."""
    linked = {(REPO_ROOT / t).resolve() for t in _relative_links((REPO_ROOT / "README.md").read_text("utf-8"))}
    pages = {p.resolve() for p in (REPO_ROOT / "docs").glob("*.md")}
    assert not pages - linked, sorted(p.name for p in pages - linked)


def test_readme_stays_a_newcomer_page():
    """Long reference sections live in docs/; benchmark figures are not repeated in the README."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", readme, flags=re.M)
    for moved in ("Service", "Scaling out (Ray)", "Training", "Evaluation", "Benchmarks"):
        assert moved not in sections
    assert "RESULT" not in readme and "_ips=" not in readme
