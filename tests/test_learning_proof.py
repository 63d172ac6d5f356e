"""Smoke test of ``benchmarks/learning_proof.py``: every stage runs end to end on a handful of
scenes, runs a fixed number of steps whatever the clock says, and the report keeps its
machine-readable last line (the figures themselves need the full run)."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import pytest

from optional import require
from paths import benchmark_module

require("spacy")

SPLITS = {"train": 40, "val": 4, "test": 6}
STEPS_PER_EPOCH = 5  # 40 training scenes, batches of 8


@pytest.fixture(scope="module")
def proof():
    with benchmark_module("learning_proof") as module:
        yield module


@pytest.fixture
def small_proof(proof, monkeypatch: pytest.MonkeyPatch):
    """The proof on 40 small training scenes, one epoch per stage."""
    monkeypatch.setattr(proof, "SPLITS", SPLITS)
    monkeypatch.setattr(proof, "IMAGE_SIZE", 128)
    monkeypatch.setattr(proof, "FINETUNE", dataclasses.replace(proof.FINETUNE, epochs=1))
    monkeypatch.setattr(proof, "TRAIN", dataclasses.replace(proof.TRAIN, epochs=1))
    return proof


def test_the_whole_pipeline_runs_and_reports(small_proof, tmp_path: Path) -> None:
    result = small_proof.run(seed=0, work=tmp_path)
    for name in ("whole-image", "centre-crop", "grounding-union", "clipcrop", "untrained"):
        assert 0.0 <= result.table[name]["iou_mean"] <= result.table[name]["iou_max"] <= 1.0
    assert (tmp_path / "owlvit-finetuned" / "config.json").is_file()
    assert (tmp_path / "decoder-untrained").is_dir()
    lines = small_proof.report(result, seed=0).splitlines()
    assert lines[0].startswith(f"grounding fine-tune: {STEPS_PER_EPOCH} steps in ")
    assert lines[1].startswith(f"decoder training: {STEPS_PER_EPOCH} steps in ")
    assert re.fullmatch(
        r"RESULT trained=[0-9.]+ grounding_only=[0-9.]+ untrained=[0-9.]+ whole=[0-9.]+", lines[-1]
    )


def test_a_slow_machine_runs_the_same_steps(small_proof, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stage's step count comes from its epochs, never from the clock: with a clock that
    says an hour passes at each reading, both stages still run all their steps."""
    hours = itertools.count(0.0, 3600.0)
    monkeypatch.setattr(small_proof.time, "perf_counter", lambda: next(hours))
    result = small_proof.run(seed=0, work=tmp_path)
    assert (result.finetune.steps, result.decoder.steps) == (STEPS_PER_EPOCH, STEPS_PER_EPOCH)


def test_the_full_schedule_is_fixed(proof) -> None:
    """The full run's epochs are constants of the script (no time budget option sets them)."""
    assert (proof.FINETUNE.epochs, proof.TRAIN.epochs) == (proof.FINETUNE_EPOCHS, proof.DECODER_EPOCHS)


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--minutes", "20"]])
def test_bad_options_exit_with_a_usage_error(proof, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        proof.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err
