"""Evaluation reports: ``results.json`` (deterministic, with per-sample results), ``results.md``
(Markdown tables laid out like the paper's Tables 1–4) and ``timings.json``.

Tables. Every data set gets a *comparison* table — rows grouped as in the paper's Table 1 (visual
grounding, cropping, conditioned cropping) — and, when a query ablation (``clipcrop-text`` /
``clipcrop-keywords``) was requested, an *ablation* table in the row order of the paper's Table 4
(ClipCrop-base, -main, -key, ClipCrop). With ``paper=`` naming one of :data:`PAPER_TABLES`
(``horanyi-pr``, ``textcrop``, ``gaic``) the paper's rows are laid out as printed, with the paper's
numbers beside ours: a paper row we reproduce shows both (its method name in backticks), a method we
did not implement shows only the paper's numbers, and our extra baselines follow in their group with
only ours. Without ``paper`` (e.g. a synthetic set) the tables hold only our numbers. Acc values are
printed ×100 as in the paper.

Determinism: ``results.json`` is written with sorted keys, floats rounded (:data:`DIGITS`), no
timestamps and no timings; the run time goes to ``timings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcrop.eval.methods import GROUPS
from promptcrop.eval.runner import CAPTION_METRICS, GAIC_METRICS, EvalResults, MethodSummary, SampleRecord
from promptcrop.images import atomic_write_text

FORMAT = "promptcrop-eval"
FORMAT_VERSION = 1
DIGITS = 6
"""Decimals kept for metrics and scores in ``results.json`` (boxes keep 2)."""

METRICS: dict[str, tuple[str, ...]] = {"captions": CAPTION_METRICS, "gaic": GAIC_METRICS}
METRIC_HEADERS = {
    "iou_mean": "IoU-Mean",
    "iou_max": "IoU-Max",
    "acc1_5": "Acc1/5",
    "acc1_10": "Acc1/10",
    "acc_bar_5": "Acc̄5",
    "acc_bar_10": "Acc̄10",
    "mapping_iou": "map. IoU",
}
PERCENT_METRICS = frozenset({"acc1_5", "acc1_10", "acc_bar_5", "acc_bar_10"})
GROUP_TITLES = {
    "grounding": "Visual grounding",
    "cropping": "Cropping",
    "conditioned": "Conditioned cropping",
    "ablation": "Ablation",
}
COMPARISON_GROUPS = ("grounding", "cropping", "conditioned")
ABLATION_METHODS = ("clipcrop-base", "clipcrop-text", "clipcrop-keywords", "clipcrop")
"""Our rows of the ablation table, in the paper's Table 4 order."""


# --------------------------------------------------------------------------- the paper's tables


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table: ``group`` (one of :data:`GROUPS`), ``label`` as printed, ``values``
    in the table's metric order as fractions (None: not reported), and ``method``: our method
    reproducing it (None: not implemented here)."""

    group: str
    label: str
    values: tuple[float | None, ...]
    method: str | None = None


@dataclass(frozen=True)
class PaperTable:
    """A table of the paper: ``dataset`` kind it applies to and its ``metrics`` columns."""

    title: str
    dataset: str
    metrics: tuple[str, ...]
    rows: tuple[PaperRow, ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if row.group not in GROUPS or len(row.values) != len(self.metrics):
                raise ValueError(f"{self.title}: malformed row {row}")


def _iou_table(title: str, grounding: Sequence[tuple], cropping: Sequence[tuple],
               conditioned: Sequence[tuple]) -> PaperTable:
    rows = [PaperRow(group, *row) for group, part in
            (("grounding", grounding), ("cropping", cropping), ("conditioned", conditioned))
            for row in part]
    return PaperTable(title, "captions", CAPTION_METRICS, tuple(rows))


TABLE_1 = _iou_table(
    "Table 1: Horanyi-PR",
    [("ReSC-Large [65]", (0.4531, 0.6079)), ("TransVG [6]", (0.4398, 0.6078)),
     ("OWL-ViT [41]", (0.4131, 0.5789), "owlvit-top")],
    [("A2-RL [26]", (0.3017, 0.4506)), ("VPN [58]", (0.3231, 0.4830)),
     ("VEN [58]", (0.3394, 0.4882)), ("Li et al. [28]", (0.3357, 0.4805)),
     ("GAIC [69]", (0.3407, 0.4863)), ("CACNet [11]", (0.3385, 0.4899)),
     ("Jia et al. [16]", (0.3333, 0.4818))],
    [("CAGIC [13]", (0.4160, None)), ("GAIC [69]+TransVG [6]", (0.4914, 0.6290)),
     ("ClipCrop", (0.5551, 0.7284), "clipcrop")],
)
TABLE_2 = _iou_table(
    "Table 2: TextCrop",
    [("ReSC-Large [65]", (0.3116, 0.3784)), ("TransVG [6]", (0.3363, 0.4056)),
     ("OWL-ViT [41]", (0.3923, 0.4758), "owlvit-top")],
    [("A2-RL [26]", (0.3919, 0.4800)), ("VPN [58]", (0.4052, 0.4934)),
     ("VEN [58]", (0.3758, 0.4531)), ("Li et al. [28]", (0.4185, 0.5034)),
     ("GAIC [69]", (0.4141, 0.4978)), ("CACNet [11]", (0.4271, 0.5162)),
     ("Jia et al. [16]", (0.4317, 0.5219))],
    [("GAIC [69]+TransVG [6]", (0.4230, 0.5031)), ("ClipCrop", (0.4992, 0.5956), "clipcrop")],
)
TABLE_3 = PaperTable("Table 3: GAIC", "gaic", ("acc1_5", "acc1_10"), tuple(
    [PaperRow("cropping", label, values) for label, values in (
        ("VFN [5]", (0.266, 0.406)), ("A2-RL [26]", (0.232, 0.395)), ("VPN [58]", (0.360, 0.485)),
        ("VEN [58]", (0.375, 0.505)), ("GAIC [69]", (0.682, 0.858)),
        ("TransView [45]", (0.690, 0.854)), ("Jia et al. [16]", (0.850, 0.926)))]
    + [PaperRow("cropping", "ClipCrop-base", (0.872, 0.944), "clipcrop-base"),
       PaperRow("conditioned", "ClipCrop", (0.798, 0.896), "clipcrop")]
))
TABLE_4 = PaperTable("Table 4: ablation on Horanyi-PR", "captions", CAPTION_METRICS, (
    PaperRow("ablation", "ClipCrop-base", (0.3233, 0.4742), "clipcrop-base"),
    PaperRow("ablation", "ClipCrop-main", (0.4550, 0.6007), "clipcrop-text"),
    PaperRow("ablation", "ClipCrop-key", (0.5170, 0.6848), "clipcrop-keywords"),
    PaperRow("ablation", "ClipCrop w/o mosaic", (0.5231, 0.6901)),
    PaperRow("ablation", "ClipCrop", (0.5551, 0.7284), "clipcrop"),
))

PAPER_TABLES: dict[str, tuple[PaperTable, PaperTable | None]] = {
    "horanyi-pr": (TABLE_1, TABLE_4),
    "textcrop": (TABLE_2, None),
    "gaic": (TABLE_3, None),
}
"""``--paper`` choices → (comparison table, ablation table or None) of the paper (ClipCrop, ICCV
2023, Tables 1–4; summarised in docs/METRICS.md, "Paper figures")."""


# --------------------------------------------------------------------------- JSON


def _round(value: float, digits: int = DIGITS) -> float:
    return round(float(value), digits)


def _method_json(summary: MethodSummary) -> dict[str, Any]:
    return {
        "name": summary.name, "label": summary.label, "group": summary.group,
        "status": summary.status, "note": summary.note, "errors": summary.errors,
        "metrics": {k: _round(v) for k, v in summary.metrics.items()},
    }


def _sample_json(record: SampleRecord) -> dict[str, Any]:
    sample = record.sample
    return {
        "id": sample.sample_id,
        "image": sample.image,
        "query": sample.query,
        "results": {
            name: {
                "boxes": [[_round(v, 2) for v in box] for box in result.output.boxes_xyxy_px],
                "scores": [_round(s) for s in result.output.scores],
                "error": result.error,
                "metrics": {k: _round(v) for k, v in record.metrics[name].items()},
            }
            for name, result in record.results.items()
        },
    }


def results_to_json(results: EvalResults, paper: str | None = None) -> dict[str, Any]:
    """The deterministic JSON document: format, config, data set, per-method aggregates (registry
    order) and per-sample results (data set order); no timings."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": None if results.config is None else results.config.to_dict(),
        "dataset": {"kind": results.dataset, "samples": len(results.samples)},
        "paper_table": paper,
        "metrics": list(METRICS[results.dataset]),
        "methods": [_method_json(m) for m in results.methods],
        "samples": [_sample_json(r) for r in results.samples],
    }


def dumps_results(results: EvalResults, paper: str | None = None) -> str:
    """``results.json`` text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(results_to_json(results, paper), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- Markdown


@dataclass(frozen=True)
class _Row:
    """One table line: a group header (``summary`` and ``paper`` unused) or a method row."""

    label: str
    summary: MethodSummary | None = None
    paper: tuple[float | None, ...] | None = None
    header: bool = False


def _format(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if metric in PERCENT_METRICS else f"{value:.4f}"


def _ours(metrics: Sequence[str], summary: MethodSummary | None) -> list[str]:
    if summary is None:
        return ["–"] * len(metrics)
    if summary.status != "ok":
        return ["skipped"] + [""] * (len(metrics) - 1)
    return [_format(m, summary.metrics.get(m)) for m in metrics]


def _method_label(label: str, name: str | None) -> str:
    return label if name is None else f"{label} (`{name}`)"


def _paper_rows(
    paper_rows: Sequence[PaperRow], ours: dict[str, MethodSummary]
) -> tuple[list[_Row], set[str]]:
    rows, used = [], set()
    for row in paper_rows:
        summary = ours.get(row.method) if row.method else None
        if summary is not None:
            used.add(summary.name)
        rows.append(_Row(_method_label(row.label, summary.name if summary else None), summary, row.values))
    return rows, used


def _our_rows(summaries: Sequence[MethodSummary], used: set[str]) -> list[_Row]:
    return [_Row(_method_label(s.label, s.name), s) for s in summaries if s.name not in used]


def comparison_rows(
    summaries: Sequence[MethodSummary], paper: PaperTable | None
) -> list[_Row]:
    """Grouped rows (visual grounding, cropping, conditioned cropping): per group the paper's rows
    first (when ``paper``), then our other methods of that group."""
    by_name = {s.name: s for s in summaries}
    rows: list[_Row] = []
    for group in COMPARISON_GROUPS:
        paper_rows = [r for r in paper.rows if r.group == group] if paper else []
        from_paper, used = _paper_rows(paper_rows, by_name)
        ours = _our_rows([s for s in summaries if s.group == group], used)
        if from_paper or ours:
            rows += [_Row(GROUP_TITLES[group], header=True), *from_paper, *ours]
    return rows


def ablation_rows(summaries: Sequence[MethodSummary], paper: PaperTable | None) -> list[_Row]:
    """Rows of the ablation table: the paper's Table 4 rows (when ``paper``), then our decoder
    variants (:data:`ABLATION_METHODS`) not shown yet; empty when no query ablation (a method of
    group ``ablation``) was requested."""
    if not any(s.group == "ablation" for s in summaries):
        return []
    by_name = {s.name: s for s in summaries}
    variants = [by_name[n] for n in ABLATION_METHODS if n in by_name]
    from_paper, used = _paper_rows(paper.rows if paper else (), by_name)
    return from_paper + _our_rows(variants, used)


def _markdown_table(rows: Sequence[_Row], metrics: Sequence[str], paper: PaperTable | None) -> list[str]:
    paper_metrics = paper.metrics if paper else ()
    headers = ["Method", *(METRIC_HEADERS[m] for m in metrics),
               *(f"paper {METRIC_HEADERS[m]}" for m in paper_metrics)]
    lines = ["| " + " | ".join(headers) + " |", "|---" + "|---:" * (len(headers) - 1) + "|"]
    for row in rows:
        if row.header:
            cells = [f"**{row.label}**"] + [""] * (len(headers) - 1)
        else:
            paper_values = row.paper or (None,) * len(paper_metrics)
            cells = [row.label, *_ours(metrics, row.summary),
                     *(_format(m, v) for m, v in zip(paper_metrics, paper_values))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _notes(summaries: Sequence[MethodSummary]) -> list[str]:
    return [f"- `{s.name}` {s.status}: {s.note}" for s in summaries if s.note]


def _heading(results: EvalResults) -> list[str]:
    config = results.config
    lines = [f"# promptcrop eval: {results.dataset}, {len(results.samples)} samples", ""]
    if config is not None:
        lines += [
            f"- data set: `{config.root}` split `{config.split}`"
            + (f", captions `{config.text_labels}`" if config.text_labels else ""),
            f"- OWL-ViT: `{config.predictor.model}`; decoder: `{config.predictor.decoder or 'none'}`; "
            f"device: `{config.predictor.device}`",
            "",
        ]
    return lines


def check_paper(paper: str | None, dataset: str) -> tuple[PaperTable | None, PaperTable | None]:
    """The (comparison, ablation) paper tables for ``paper`` (None → none). ValueError when the
    name is unknown or the table belongs to another kind of data set."""
    if paper is None:
        return None, None
    if paper not in PAPER_TABLES:
        raise ValueError(f"unknown paper table {paper!r}; choose from {', '.join(PAPER_TABLES)}")
    tables = PAPER_TABLES[paper]
    if tables[0].dataset != dataset:
        raise ValueError(f"paper table {paper!r} is for a {tables[0].dataset} data set, not {dataset}")
    return tables


def render_markdown(results: EvalResults, paper: str | None = None) -> str:
    """The Markdown report: heading, comparison table, ablation table (if any), notes."""
    comparison_paper, ablation_paper = check_paper(paper, results.dataset)
    metrics = METRICS[results.dataset]
    lines = _heading(results)
    title = f" (layout of the paper's {comparison_paper.title})" if comparison_paper else ""
    lines += [f"## Comparison{title}", ""]
    lines += _markdown_table(comparison_rows(results.methods, comparison_paper), metrics, comparison_paper)
    ablation = ablation_rows(results.methods, ablation_paper)
    if ablation:
        title = f" (layout of the paper's {ablation_paper.title})" if ablation_paper else ""
        lines += ["", f"## Query ablation{title}", ""]
        lines += _markdown_table(ablation, metrics, ablation_paper)
    notes = _notes(results.methods)
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += ["", "Per-sample boxes, scores and metrics: `results.json` → `samples`."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    results_json: Path
    results_md: Path
    timings_json: Path


def write_report(results: EvalResults, out_dir: Path | str, paper: str | None = None) -> ReportFiles:
    """Write ``results.json``, ``results.md`` and ``timings.json`` into ``out_dir`` (created),
    each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(results, paper)  # validates ``paper`` before anything is written
    files = ReportFiles(out / "results.json", out / "results.md", out / "timings.json")
    atomic_write_text(files.results_json, dumps_results(results, paper))
    atomic_write_text(files.results_md, markdown)
    n = max(len(results.samples), 1)
    timings = {"seconds": round(results.seconds, 3), "seconds_per_sample": round(results.seconds / n, 3)}
    atomic_write_text(files.timings_json, json.dumps(timings, sort_keys=True, indent=2) + "\n")
    return files
