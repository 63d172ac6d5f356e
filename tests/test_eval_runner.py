"""eval/runner: data set loading, known-answer metrics, skipping, and the whole evaluation end to end
on a synthetic GAIC-format set and its caption set with tiny random OWL-ViT + decoder weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from promptcrop import metrics as M
from promptcrop.errors import DatasetError
from promptcrop.eval.methods import (
    METHOD_NAMES,
    MethodOutput,
    MethodPool,
    MethodResult,
    ModelSettings,
    centre_crop_box,
    get_methods,
)
from promptcrop.eval.report import dumps_results
from promptcrop.eval.runner import (
    CAPTION_METRICS,
    GAIC_METRICS,
    EvalConfig,
    EvalSample,
    caption_set_path,
    evaluate,
    load_samples,
    run_evaluation,
)
from promptcrop.options import PredictorOptions
from promptcrop.train.synthetic import SyntheticConfig, write_gaic_dataset

N_TEST = 2
GAIC_METHODS = ("whole-image", "offline", "clipcrop-base", "owlvit-top", "zeroshot", "clipcrop")  # registry order


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    config = SyntheticConfig(width_range=(160, 200), height_range=(140, 180))
    return write_gaic_dataset(tmp_path_factory.mktemp("synthetic"), config, {"test": N_TEST})


@pytest.fixture(scope="module")
def decoder_dir(tmp_path_factory, tiny_owlvit_dir) -> Path:
    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder

    encoder = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir))
    config = dataclasses.replace(get_preset("tiny").decoder, token_dim=encoder.token_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        decoder = ClipCropDecoder(config)
        with torch.no_grad():  # non-zero offsets, so the variants' boxes differ from b_u
            for p in decoder.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    out = tmp_path_factory.mktemp("decoder") / "decoder"
    return save_decoder(decoder, out, encoder_info=EncoderInfo.from_encoder(encoder), preset="tiny")


def _config(root: Path, dataset: str, owl: Path, decoder: Path | None, **kwargs) -> EvalConfig:
    options = PredictorOptions(model=str(owl), decoder=None if decoder is None else str(decoder), offline=True)
    return EvalConfig(dataset, str(root), predictor=options, **kwargs)


@pytest.fixture(scope="module")
def caption_run(synthetic_root, tiny_owlvit_dir, decoder_dir):
    return run_evaluation(_config(synthetic_root, "captions", tiny_owlvit_dir, decoder_dir), progress=False)


@pytest.fixture(scope="module")
def gaic_run(synthetic_root, tiny_owlvit_dir, decoder_dir):
    config = _config(synthetic_root, "gaic", tiny_owlvit_dir, decoder_dir,
                     text_labels=str(synthetic_root / "text"), methods=GAIC_METHODS)
    return run_evaluation(config, progress=False)


# --------------------------------------------------------------------------- configuration & loading


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="coco"), "dataset"),
    (dict(split="dev"), "split"),
    (dict(dataset="captions", text_labels="x"), "text_labels"),
    (dict(limit=0), "limit"),
    (dict(k=2), "k must be at least 4"),
    (dict(methods=("whole-image", "bogus")), "bogus"),
])
def test_config_is_validated(kwargs, match):
    base = dict(dataset="gaic", root="r")
    with pytest.raises(ValueError, match=match):
        EvalConfig(**{**base, **kwargs})


def test_config_orders_methods_like_the_registry():
    config = EvalConfig("gaic", "r", methods=("zeroshot", "whole-image"))
    assert config.methods == ("whole-image", "zeroshot")
    assert json.loads(json.dumps(config.to_dict()))["methods"] == ["whole-image", "zeroshot"]


def test_load_samples_from_both_layouts(synthetic_root):
    captions = load_samples(EvalConfig("captions", str(synthetic_root)))
    assert [s.sample_id for s in captions] == ["00000", "00001"]
    assert captions[0].image == "../images/test/test00000.jpg"  # relative to the caption file
    assert captions[0].query and captions[0].mos is None and captions[0].boxes_xyxy_px.shape[1] == 4
    from_file = load_samples(EvalConfig("captions", str(caption_set_path(synthetic_root, "test")), limit=1))
    assert [s.query for s in from_file] == [captions[0].query]

    gaic = load_samples(EvalConfig("gaic", str(synthetic_root)))
    assert [s.sample_id for s in gaic] == ["test00000", "test00001"]
    assert gaic[0].image == "images/test/test00000.jpg" and gaic[0].query is None
    assert len(gaic[0].mos) == len(gaic[0].boxes_xyxy_px) > 50
    labelled = load_samples(EvalConfig("gaic", str(synthetic_root), text_labels=str(synthetic_root / "text")))
    assert [s.query for s in labelled] == [s.query for s in captions]


def test_missing_data_set_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError):
        load_samples(EvalConfig("captions", str(tmp_path)))
    with pytest.raises(DatasetError):
        load_samples(EvalConfig("gaic", str(tmp_path)))


# --------------------------------------------------------------------------- known answers


def _known_samples(tmp_path: Path) -> tuple[list[EvalSample], np.ndarray]:
    size = (120, 80)
    path = tmp_path / "img.png"
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(path)
    centre = centre_crop_box(size)
    return [EvalSample("a", path, "img.png", None, centre[None])], centre


def test_known_answer_iou(tmp_path):
    samples, centre = _known_samples(tmp_path)
    pool = MethodPool(ModelSettings(PredictorOptions(model=None)))
    results = evaluate(samples, get_methods(["whole-image", "centre-crop"]), pool, "captions", progress=False)
    assert results.method("centre-crop").metrics == pytest.approx({"iou_mean": 1.0, "iou_max": 1.0})
    whole = results.method("whole-image").metrics
    assert whole["iou_mean"] == pytest.approx(0.8) and whole["iou_max"] == pytest.approx(0.8)
    record = results.samples[0]
    assert record.metrics["centre-crop"]["iou_mean"] == pytest.approx(1.0)
    assert record.results["centre-crop"].output.boxes_xyxy_px[0] == pytest.approx(centre)


def test_known_answer_gaic_mapping(tmp_path):
    samples, centre = _known_samples(tmp_path)
    candidates = np.stack([centre, [0, 0, 60, 80], [60, 0, 120, 80], [0, 0, 119, 79]])
    mos = np.array([4.5, 2.0, 2.0, 3.0])
    gaic = [dataclasses.replace(samples[0], boxes_xyxy_px=candidates, mos=mos)]
    pool = MethodPool(ModelSettings(PredictorOptions(model=None)))
    results = evaluate(gaic, get_methods(["whole-image", "centre-crop"]), pool, "gaic", progress=False)
    centre_metrics = results.method("centre-crop").metrics
    assert centre_metrics["acc1_5"] == 1.0 and centre_metrics["mapping_iou"] == pytest.approx(1.0)
    # one box returned: K = 2..4 count misses, so Acc̄ = (1 + 1/2 + 1/3 + 1/4) / 4 when the box hits
    assert centre_metrics["acc_bar_5"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    # the whole image maps to the near-whole candidate: MOS 3.0 is the 2nd best of 4 → a hit at N=5
    whole = results.method("whole-image").metrics
    assert whole["acc1_5"] == 1.0 and whole["mapping_iou"] == pytest.approx(119 * 79 / (120 * 80))


def test_samples_without_query_skip_conditioned_methods(tmp_path):
    samples, _ = _known_samples(tmp_path)
    pool = MethodPool(ModelSettings(PredictorOptions(model=None)))
    results = evaluate(samples, get_methods(["centre-crop", "zeroshot"]), pool, "captions", progress=False)
    skipped = results.method("zeroshot")
    assert skipped.status == "skipped" and "text query" in skipped.note and not skipped.metrics
    assert "zeroshot" not in results.samples[0].results


def test_errors_are_counted_and_scored_zero(tmp_path, monkeypatch):
    samples, _ = _known_samples(tmp_path)

    def broken(self, methods, image, query):
        return {m.name: MethodResult(MethodOutput.empty(), error="boom") for m in methods}

    monkeypatch.setattr(MethodPool, "run_sample", broken)
    results = evaluate(samples, get_methods(["centre-crop"]), MethodPool(ModelSettings(PredictorOptions(model=None))),
                       "captions", progress=False)
    summary = results.method("centre-crop")
    assert summary.errors == 1 and "1 of 1" in summary.note
    assert summary.metrics == {"iou_mean": 0.0, "iou_max": 0.0}


# --------------------------------------------------------------------------- end to end


def _check_consistent(results, method_names, metric_names, sample_metric):
    assert [m.name for m in results.methods] == list(method_names)
    assert len(results.samples) == N_TEST
    for summary in results.methods:
        assert summary.status == "ok" and summary.errors == 0, summary
        assert set(summary.metrics) == set(metric_names)
        assert all(0.0 <= v <= 1.0 for v in summary.metrics.values())
        per_sample = [r.metrics[summary.name][sample_metric] for r in results.samples]
        assert summary.metrics[sample_metric] == pytest.approx(np.mean(per_sample))
        for record in results.samples:
            output = record.results[summary.name].output
            assert 1 <= len(output.scores) <= 4


def test_caption_set_end_to_end(caption_run, synthetic_root):
    _check_consistent(caption_run, METHOD_NAMES, CAPTION_METRICS, "iou_mean")
    expected = M.dataset_iou_mean_max(
        [r.results["whole-image"].output.boxes_xyxy_px for r in caption_run.samples],
        [r.sample.boxes_xyxy_px for r in caption_run.samples],
    )
    assert caption_run.method("whole-image").metrics["iou_max"] == pytest.approx(expected.max)
    # the variants really differ: the query changes ClipCrop's boxes, but not ClipCrop-base's
    first = caption_run.samples[0].results
    assert not np.allclose(first["clipcrop"].output.boxes_xyxy_px, first["clipcrop-base"].output.boxes_xyxy_px)


def test_gaic_set_with_captions_end_to_end(gaic_run):
    _check_consistent(gaic_run, GAIC_METHODS, GAIC_METRICS, "acc1_5")
    for record in gaic_run.samples:
        assert record.sample.query is not None
        assert set(record.metrics["zeroshot"]) == {"acc1_5", "acc1_10", "mapping_iou"}


def test_two_runs_give_identical_json(synthetic_root, tiny_owlvit_dir, decoder_dir, gaic_run):
    config = gaic_run.config
    again = run_evaluation(config, progress=False)
    assert dumps_results(again) == dumps_results(gaic_run)
    assert again.seconds > 0
