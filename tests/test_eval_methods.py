"""eval/methods: the registry, the geometry baselines, the readers and the shared Predictor calls.

Readers are checked on hand-built Predictions (known answers); the pool runs on the tiny random
OWL-ViT from the conftest fixture (real code paths, meaningless boxes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from promptcrop import boxes as B
from promptcrop.errors import PromptcropError
from promptcrop.eval.methods import (
    CENTRE_CROP_AREA,
    GROUPS,
    METHOD_NAMES,
    METHODS,
    MethodOutput,
    MethodPool,
    ModelSettings,
    PredictorCall,
    centre_crop_box,
    get_methods,
    read_full_text_box,
    read_region,
    read_top_crops,
    whole_image_box,
)
from promptcrop.options import PredictorOptions
from promptcrop.predictor import Predictor
from promptcrop.results import CropResult, GroundedBox, Prediction


def _image(w: int = 200, h: int = 150) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = (rng.random((h, w, 3)) * 60 + 90).astype(np.uint8)
    img[30:70, 120:170] = (220, 40, 40)
    return img


def _crop(box, score, rank, aspect=None):
    return CropResult(box=box, score=score, rank=rank, aspect=aspect, mode="zeroshot")


# --------------------------------------------------------------------------- geometry


def test_whole_image_and_centre_crop_boxes():
    assert whole_image_box((300, 200)).tolist() == [0, 0, 300, 200]
    box = centre_crop_box((300, 200))
    w, h = box[2] - box[0], box[3] - box[1]
    assert w / h == pytest.approx(300 / 200)
    assert w * h == pytest.approx(CENTRE_CROP_AREA * 300 * 200)
    assert (box[0] + box[2]) / 2 == pytest.approx(150) and (box[1] + box[3]) / 2 == pytest.approx(100)
    assert centre_crop_box((300, 200), area=1.0).tolist() == pytest.approx([0, 0, 300, 200])


@pytest.mark.parametrize("area", [0.0, -0.1, 1.5])
def test_centre_crop_area_is_validated(area):
    with pytest.raises(ValueError, match="area"):
        centre_crop_box((100, 100), area=area)


# --------------------------------------------------------------------------- registry


def test_registry_names_groups_and_conditions():
    assert len(set(METHOD_NAMES)) == len(METHODS) == 10
    assert all(m.group in GROUPS for m in METHODS)
    by_name = {m.name: m for m in METHODS}
    unconditioned = {"whole-image", "centre-crop", "offline", "clipcrop-base"}
    assert {m.name for m in METHODS if not m.needs_query} == unconditioned
    assert by_name["clipcrop-text"].call == PredictorCall("clipcrop", query_parts="text")
    assert by_name["clipcrop-keywords"].call == PredictorCall("clipcrop", query_parts="keywords")
    assert by_name["clipcrop"].call == PredictorCall("clipcrop", query_parts="both")
    assert by_name["clipcrop-base"].call == PredictorCall("clipcrop", conditioned=False)
    # the three zero-shot readers share one call, so one forward serves them all
    zeroshot_calls = {by_name[n].call for n in ("owlvit-top", "grounding-union", "zeroshot")}
    assert zeroshot_calls == {PredictorCall("zeroshot")}


def test_get_methods_keeps_registry_order_and_rejects_unknown_names():
    assert get_methods() == METHODS
    picked = get_methods(["clipcrop", "whole-image", "clipcrop"])
    assert [m.name for m in picked] == ["whole-image", "clipcrop"]
    with pytest.raises(ValueError, match="unknown method.*nope"):
        get_methods(["zeroshot", "nope"])
    with pytest.raises(ValueError, match="no method"):
        get_methods([])


def test_offline_call_cannot_be_conditioned():
    with pytest.raises(ValueError, match="offline"):
        PredictorCall("offline")
    with pytest.raises(ValueError, match="mode"):
        PredictorCall("magic")


def test_method_output_validates_lengths():
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        MethodOutput(np.zeros((2, 4)), np.zeros(1))
    assert MethodOutput.empty().boxes_xyxy_px.shape == (0, 4)
    single = MethodOutput.single([1, 2, 3, 4], 0.5)
    assert single.boxes_xyxy_px.tolist() == [[1, 2, 3, 4]] and single.scores.tolist() == [0.5]


# --------------------------------------------------------------------------- readers


def test_read_top_crops_takes_the_first_aspect_by_rank():
    pred = Prediction(
        crops=[_crop((0, 0, 10, 10), 0.4, 2, 1.0), _crop((5, 5, 20, 20), 0.9, 1, 1.0),
               _crop((0, 0, 16, 9), 0.8, 1, 16 / 9)],
        image_size=(40, 30), mode="zeroshot",
    )
    out = read_top_crops(pred, (40, 30))
    assert out.boxes_xyxy_px.tolist() == [[5, 5, 20, 20], [0, 0, 10, 10]]
    assert out.scores.tolist() == [0.9, 0.4]
    empty = Prediction(crops=[], image_size=(40, 30), mode="zeroshot")
    assert len(read_top_crops(empty, (40, 30)).scores) == 0


def test_read_full_text_box_picks_the_full_query_phrase():
    pred = Prediction(
        crops=[], image_size=(100, 80), mode="zeroshot", query="the red car",
        grounding=[GroundedBox("the red car", (10.0, 10.0, 50.0, 40.0), 2.0),
                   GroundedBox("car", (0.0, 0.0, 20.0, 20.0), 5.0)],
        region=(0.0, 0.0, 50.0, 40.0),
    )
    out = read_full_text_box(pred, (100, 80))
    assert out.boxes_xyxy_px.tolist() == [[10, 10, 50, 40]]
    assert out.scores[0] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert read_region(pred, (100, 80)).boxes_xyxy_px.tolist() == [[0, 0, 50, 40]]
    pred.grounding = pred.grounding[1:]
    with pytest.raises(PromptcropError, match="full query"):
        read_full_text_box(pred, (100, 80))
    pred.region = None
    with pytest.raises(PromptcropError, match="region"):
        read_region(pred, (100, 80))


# --------------------------------------------------------------------------- the pool


def test_unavailable_reasons_name_what_is_missing(tiny_owlvit_dir, tmp_path):
    by_name = {m.name: m for m in METHODS}
    no_model = MethodPool(ModelSettings(PredictorOptions(model=None)))
    assert no_model.unavailable_reason(by_name["whole-image"]) is None
    assert no_model.unavailable_reason(by_name["offline"]) is None
    assert "--model" in no_model.unavailable_reason(by_name["zeroshot"])
    no_decoder = MethodPool(ModelSettings(PredictorOptions(model=str(tiny_owlvit_dir), offline=True)))
    assert no_decoder.unavailable_reason(by_name["zeroshot"]) is None
    assert "--decoder" in no_decoder.unavailable_reason(by_name["clipcrop"])
    bad_decoder = MethodPool(ModelSettings(
        PredictorOptions(model=str(tiny_owlvit_dir), decoder=str(tmp_path / "missing"), offline=True)))
    reason = bad_decoder.unavailable_reason(by_name["clipcrop-text"])
    assert reason and "missing" in reason
    missing_model = MethodPool(ModelSettings(PredictorOptions(model=str(tmp_path), offline=True)))
    assert "OWL-ViT" in missing_model.unavailable_reason(by_name["owlvit-top"])


def test_run_sample_shares_one_zeroshot_call(tiny_owlvit_dir, monkeypatch):
    calls = []
    original = Predictor.predict

    def counting(self, image, query=None, *args, **kwargs):
        calls.append((self.mode, query))
        return original(self, image, query, *args, **kwargs)

    monkeypatch.setattr(Predictor, "predict", counting)
    pool = MethodPool(ModelSettings(PredictorOptions(model=str(tiny_owlvit_dir), offline=True)))
    methods = get_methods(["whole-image", "centre-crop", "offline", "owlvit-top",
                           "grounding-union", "zeroshot"])
    image = _image()
    results = pool.run_sample(methods, image, "the red square")
    assert calls == [("offline", None), ("zeroshot", "the red square")]
    assert all(r.error is None for r in results.values())
    assert results["whole-image"].output.boxes_xyxy_px.tolist() == [[0, 0, 200, 150]]
    top = results["owlvit-top"].output.boxes_xyxy_px[0]
    union = results["grounding-union"].output.boxes_xyxy_px[0]
    assert bool(B.contains(union, top, tol=1e-3))  # b_u holds the full text's box
    crops = results["zeroshot"].output
    assert 1 <= len(crops.scores) <= pool.settings.k
    assert np.all(np.diff(crops.scores) <= 0)  # best first
    assert np.all(crops.boxes_xyxy_px[:, 2:] <= [200, 150]) and np.all(crops.boxes_xyxy_px >= 0)


def test_a_failing_call_becomes_an_error_for_its_methods_only(monkeypatch):
    def fail(self, *args, **kwargs):
        raise PromptcropError("saliency exploded")

    monkeypatch.setattr(Predictor, "predict", fail)
    pool = MethodPool(ModelSettings(PredictorOptions(model=None)))
    results = pool.run_sample(get_methods(["whole-image", "offline"]), _image(), None)
    assert results["offline"].error == "saliency exploded"
    assert len(results["offline"].output.scores) == 0
    assert results["whole-image"].error is None
