"""eval/commands: ``promptcrop eval`` argument parsing and the command on a synthetic set (weight-free
methods only, so no model is loaded)."""

from __future__ import annotations

import argparse
import json

import pytest

from promptcrop.eval.commands import add_eval_parser, config_from_args, run_eval
from promptcrop.eval.methods import METHOD_NAMES
from promptcrop.train.synthetic import SyntheticConfig, write_gaic_dataset

WEIGHT_FREE = ["whole-image", "centre-crop", "offline"]


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    config = SyntheticConfig(width_range=(120, 160), height_range=(110, 150))
    return write_gaic_dataset(tmp_path_factory.mktemp("synthetic"), config, {"test": 2})


def _parse(argv):
    parser = argparse.ArgumentParser(prog="promptcrop")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *argv])


def test_parser_defaults_and_config():
    args = _parse(["--dataset", "gaic", "--root", "/d"])
    assert args.handler is run_eval and args.split == "test" and args.out is None
    config = config_from_args(args)
    assert config.methods == METHOD_NAMES and config.text_labels is None and not config.predictor.offline
    args = _parse(["--dataset", "captions", "--root", "/d", "--split", "val", "--methods", "zeroshot",
                   "whole-image", "--offline", "--limit", "3", "--decoder", "dec"])
    config = config_from_args(args)
    assert config.methods == ("whole-image", "zeroshot") and config.split == "val"
    assert config.predictor.offline and config.limit == 3 and config.predictor.decoder == "dec"


@pytest.mark.parametrize("argv", [
    ["--dataset", "coco", "--root", "/d"],
    ["--dataset", "gaic"],
    ["--dataset", "gaic", "--root", "/d", "--methods", "bogus"],
    ["--dataset", "gaic", "--root", "/d", "--paper", "table9"],
])
def test_usage_errors(argv):
    with pytest.raises(SystemExit):
        _parse(argv)


def test_bad_combinations_raise_value_error():
    with pytest.raises(ValueError, match="limit"):
        config_from_args(_parse(["--dataset", "gaic", "--root", "/d", "--limit", "0"]))
    with pytest.raises(ValueError, match="text_labels"):
        config_from_args(_parse(["--dataset", "captions", "--root", "/d", "--text-labels", "t"]))
    args = _parse(["--dataset", "gaic", "--root", "/does/not/exist", "--paper", "horanyi-pr"])
    with pytest.raises(ValueError, match="captions data set"):
        run_eval(args)  # refused before any data is read


def test_run_eval_writes_results_and_prints_the_table(synthetic_root, tmp_path, capsys):
    out = tmp_path / "out"
    args = _parse(["--dataset", "gaic", "--root", str(synthetic_root), "--methods", *WEIGHT_FREE,
                   "--out", str(out)])
    assert run_eval(args) == 0
    captured = capsys.readouterr()
    assert captured.out == (out / "results.md").read_text()
    assert "| Whole image (`whole-image`) |" in captured.out
    assert "eval gaic" in captured.err  # the progress bar is on stderr
    data = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in data["methods"]] == WEIGHT_FREE
    assert all(m["status"] == "ok" for m in data["methods"])
    assert [s["id"] for s in data["samples"]] == ["test00000", "test00001"]
    assert (out / "timings.json").exists()


def test_run_eval_without_out_only_prints(synthetic_root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _parse(["--dataset", "captions", "--root", str(synthetic_root), "--methods", "centre-crop",
                   "zeroshot", "--model", str(tmp_path / "no-model"), "--offline", "--quiet"])
    assert run_eval(args) == 0
    captured = capsys.readouterr()
    assert "| Centre crop (`centre-crop`) |" in captured.out and captured.err == ""
    assert "`zeroshot` skipped:" in captured.out  # missing weights: skipped with the reason
    assert list(tmp_path.iterdir()) == []
