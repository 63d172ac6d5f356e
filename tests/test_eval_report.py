"""eval/report: deterministic results.json, Markdown tables laid out like the paper's Tables 1–4,
and the paper's numbers (checked against docs/METRICS.md, "Paper figures"). Results are built by
hand: no model runs here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from promptcrop.eval.methods import MethodOutput, MethodResult
from promptcrop.eval.report import (
    PAPER_TABLES,
    TABLE_1,
    TABLE_2,
    TABLE_3,
    TABLE_4,
    check_paper,
    dumps_results,
    render_markdown,
    results_to_json,
    write_report,
)
from promptcrop.eval.runner import EvalConfig, EvalResults, EvalSample, MethodSummary, SampleRecord


def _summary(name, label, group, **metrics):
    return MethodSummary(name, label, group, "ok", metrics=metrics)


def _caption_results(seconds: float = 1.5) -> EvalResults:
    sample = EvalSample("00000", Path("/data/img.jpg"), "img.jpg", "the dog",
                        np.array([[0.0, 0.0, 10.0, 10.0]]))
    output = MethodOutput(np.array([[1.234567, 2.0, 9.0, 9.5]]), np.array([0.123456789]))
    record = SampleRecord(sample, {"owlvit-top": MethodResult(output)},
                          {"owlvit-top": {"iou_mean": 0.5123456789, "iou_max": 0.6}})
    methods = [
        _summary("whole-image", "Whole image", "cropping", iou_mean=0.31, iou_max=0.42),
        _summary("owlvit-top", "OWL-ViT top box", "grounding", iou_mean=0.5123456789, iou_max=0.6),
        MethodSummary("clipcrop", "ClipCrop", "conditioned", "skipped",
                      note="needs a trained ClipCrop decoder checkpoint (--decoder)"),
        MethodSummary("clipcrop-text", "ClipCrop-main, full text only", "ablation", "skipped",
                      note="needs a trained ClipCrop decoder checkpoint (--decoder)"),
    ]
    config = EvalConfig("captions", "/data/set.json", methods=tuple(m.name for m in methods))
    return EvalResults("captions", methods, [record], config=config, seconds=seconds)


def _gaic_results() -> EvalResults:
    methods = [
        _summary("centre-crop", "Centre crop", "cropping", acc1_5=0.5, acc1_10=0.75,
                 acc_bar_5=0.25, acc_bar_10=0.3, mapping_iou=0.9),
        _summary("clipcrop-base", "ClipCrop-base", "cropping", acc1_5=0.875, acc1_10=0.9375,
                 acc_bar_5=0.5, acc_bar_10=0.6, mapping_iou=0.8),
    ]
    return EvalResults("gaic", methods, [])


def _row(markdown: str, start: str) -> list[str]:
    line = next(l for l in markdown.splitlines() if l.startswith(f"| {start}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


# --------------------------------------------------------------------------- JSON


def test_json_is_sorted_rounded_and_free_of_timings():
    text = dumps_results(_caption_results())
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "seconds" not in text
    assert [m["name"] for m in data["methods"]] == ["whole-image", "owlvit-top", "clipcrop", "clipcrop-text"]
    assert data["methods"][1]["metrics"]["iou_mean"] == 0.512346
    assert data["methods"][2]["status"] == "skipped" and "--decoder" in data["methods"][2]["note"]
    sample = data["samples"][0]
    assert sample["id"] == "00000" and sample["image"] == "img.jpg" and sample["query"] == "the dog"
    result = sample["results"]["owlvit-top"]
    assert result["boxes"] == [[1.23, 2.0, 9.0, 9.5]] and result["scores"] == [0.123457]
    assert result["error"] is None and result["metrics"]["iou_max"] == 0.6
    assert data["config"]["root"] == "/data/set.json" and data["dataset"] == {"kind": "captions", "samples": 1}


def test_json_does_not_depend_on_run_time():
    assert dumps_results(_caption_results(1.0)) == dumps_results(_caption_results(99.0))
    assert results_to_json(_caption_results(), "horanyi-pr")["paper_table"] == "horanyi-pr"


# --------------------------------------------------------------------------- Markdown


def test_markdown_without_paper_holds_only_our_numbers():
    md = render_markdown(_caption_results())
    assert "paper" not in md.split("## Comparison")[1].split("\n")[2]  # header row
    lines = md.splitlines()
    groups = [l for l in lines if l.startswith("| **")]
    assert groups[:3] == ["| **Visual grounding** |  |  |", "| **Cropping** |  |  |",
                          "| **Conditioned cropping** |  |  |"]
    assert _row(md, "OWL-ViT top box") == ["OWL-ViT top box (`owlvit-top`)", "0.5123", "0.6000"]
    assert _row(md, "ClipCrop (`clipcrop`)") == ["ClipCrop (`clipcrop`)", "skipped", ""]
    assert "- `clipcrop` skipped: needs a trained ClipCrop decoder checkpoint (--decoder)" in lines
    assert "## Query ablation" in md  # clipcrop-text was requested


def test_markdown_with_horanyi_pr_lays_out_tables_1_and_4():
    md = render_markdown(_caption_results(), "horanyi-pr")
    comparison, ablation = md.split("## Query ablation")
    assert "Table 1: Horanyi-PR" in comparison and "Table 4" in ablation
    assert _row(comparison, "OWL-ViT [41]") == ["OWL-ViT [41] (`owlvit-top`)", "0.5123", "0.6000",
                                                "0.4131", "0.5789"]
    assert _row(comparison, "TransVG") == ["TransVG [6]", "–", "–", "0.4398", "0.6078"]
    assert _row(comparison, "CAGIC") == ["CAGIC [13]", "–", "–", "0.4160", "–"]
    # our extra baseline follows the paper's rows of its group
    names = [l.split("|")[1].strip() for l in comparison.splitlines() if l.startswith("| ")]
    assert names.index("Whole image (`whole-image`)") == names.index("Jia et al. [16]") + 1
    assert _row(ablation, "ClipCrop w/o mosaic") == ["ClipCrop w/o mosaic", "–", "–", "0.5231", "0.6901"]
    assert _row(ablation, "ClipCrop-main") == ["ClipCrop-main (`clipcrop-text`)", "skipped", "",
                                               "0.4550", "0.6007"]


def test_gaic_table_prints_acc_as_percent_beside_table_3():
    md = render_markdown(_gaic_results(), "gaic")
    header = _row(md, "Method")
    assert header == ["Method", "Acc1/5", "Acc1/10", "Acc̄5", "Acc̄10", "map. IoU",
                      "paper Acc1/5", "paper Acc1/10"]
    assert _row(md, "ClipCrop-base") == ["ClipCrop-base (`clipcrop-base`)", "87.5", "93.8", "50.0",
                                         "60.0", "0.8000", "87.2", "94.4"]
    assert _row(md, "Centre crop") == ["Centre crop (`centre-crop`)", "50.0", "75.0", "25.0", "30.0",
                                       "0.9000", "–", "–"]
    assert "## Query ablation" not in md  # no ablation method requested
    assert "87.5" in render_markdown(_gaic_results()) and "paper" not in render_markdown(_gaic_results())


def test_paper_table_must_match_the_data_set():
    with pytest.raises(ValueError, match="captions data set, not gaic"):
        check_paper("horanyi-pr", "gaic")
    with pytest.raises(ValueError, match="unknown paper table"):
        check_paper("coco", "gaic")
    assert check_paper(None, "gaic") == (None, None)
    assert check_paper("textcrop", "captions") == (TABLE_2, None)


def test_paper_numbers_match_spec_section_5():
    def values(table, label):
        return next(r.values for r in table.rows if r.label == label)

    assert values(TABLE_1, "OWL-ViT [41]") == (0.4131, 0.5789)
    assert values(TABLE_1, "GAIC [69]+TransVG [6]") == (0.4914, 0.6290)
    assert values(TABLE_1, "ClipCrop") == (0.5551, 0.7284)
    assert values(TABLE_2, "OWL-ViT [41]") == (0.3923, 0.4758)
    assert values(TABLE_2, "Jia et al. [16]") == (0.4317, 0.5219)
    assert values(TABLE_2, "ClipCrop") == (0.4992, 0.5956)
    assert values(TABLE_3, "GAIC [69]") == (0.682, 0.858)
    assert values(TABLE_3, "Jia et al. [16]") == (0.850, 0.926)
    assert values(TABLE_3, "ClipCrop-base") == (0.872, 0.944)
    assert values(TABLE_3, "ClipCrop") == (0.798, 0.896)
    assert [r.values[0] for r in TABLE_4.rows if r.method] == [0.3233, 0.4550, 0.5170, 0.5551]
    assert set(PAPER_TABLES) == {"horanyi-pr", "textcrop", "gaic"}


# --------------------------------------------------------------------------- files


def test_write_report_writes_three_files(tmp_path):
    results = _caption_results(seconds=2.0)
    files = write_report(results, tmp_path / "out", "horanyi-pr")
    assert files.results_json.read_text() == dumps_results(results, "horanyi-pr")
    assert files.results_md.read_text() == render_markdown(results, "horanyi-pr")
    assert json.loads(files.timings_json.read_text()) == {"seconds": 2.0, "seconds_per_sample": 2.0}


def test_write_report_refuses_a_wrong_paper_table_before_writing(tmp_path):
    with pytest.raises(ValueError):
        write_report(_caption_results(), tmp_path, "gaic")
    assert not (tmp_path / "results.json").exists()
