"""Smoke test of ``benchmarks/learning_proof.py``: every stage runs end to end on a handful of
scenes and the report keeps its machine-readable last line (the figures themselves need the
20-minute run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from optional import require
from paths import benchmark_module

require("spacy")


@pytest.fixture(scope="module")
def proof():
    with benchmark_module("learning_proof") as module:
        yield module


def test_the_whole_pipeline_runs_and_reports(proof, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proof, "SPLITS", {"train": 40, "val": 4, "test": 6})
    monkeypatch.setattr(proof, "PILOT_STEPS", 5)
    monkeypatch.setattr(proof, "DECODER_PILOT_STEPS", 6)
    monkeypatch.setattr(proof, "DECODER_PILOT_SKIP", 3)
    monkeypatch.setattr(proof, "IMAGE_SIZE", 128)
    monkeypatch.setattr(proof, "epochs_for", lambda *_: 1)  # one epoch per stage after the pilots
    table = proof.run(seed=0, minutes=0.5, work=tmp_path)
    for name in ("whole-image", "centre-crop", "grounding-union", "clipcrop", "untrained"):
        assert 0.0 <= table[name]["iou_mean"] <= table[name]["iou_max"] <= 1.0
    assert (tmp_path / "owlvit-finetuned" / "config.json").is_file()
    assert (tmp_path / "decoder-untrained").is_dir()
    last = proof.report(table, seed=0).splitlines()[-1]
    assert re.fullmatch(
        r"RESULT trained=[0-9.]+ grounding_only=[0-9.]+ untrained=[0-9.]+ whole=[0-9.]+", last
    )


@pytest.mark.parametrize("argv", [["--minutes", "0"], ["--threads", "0"]])
def test_bad_options_exit_with_a_usage_error(proof, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        proof.main(argv)
    assert exit_info.value.code == 2
    assert "must be" in capsys.readouterr().err
