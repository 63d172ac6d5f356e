"""records: the one JSON record, with and without file names, and the ratio labels it carries."""

from __future__ import annotations

import json

import numpy as np

from promptcrop import __version__
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest
from promptcrop.results import RECORD_SCHEMA, CropResult, GroundedBox, Prediction, build_record, versions


def _photo(w: int = 240, h: int = 160) -> np.ndarray:
    rng = np.random.default_rng(1)
    img = (rng.random((h, w, 3)) * 50 + 90).astype(np.uint8)
    img[30:90, 150:210] = (20, 200, 40)
    return img


def test_the_record_of_a_hand_made_prediction_is_the_documented_layout():
    crops = [
        CropResult(box=(10, 20, 170, 110), score=0.81234567, rank=1, aspect=16 / 9, mode="zeroshot",
                   ratio="16:9", terms={"placement": 0.5}),
        CropResult(box=(-10, -40, 90, 360), score=0.25, rank=1, aspect=0.25, mode="zeroshot", padded=True,
                   pad_color=(1, 2, 3), output_size=(50, 200), ratio="1:4"),
    ]
    pred = Prediction(
        crops=crops, image_size=(240, 160), mode="zeroshot", query="a green square", phrases=("a green square",),
        region=(150.004, 30.0, 210.0, 90.0), grounding=[GroundedBox("a green square", (150.004, 30, 210, 90), 1.5)],
        timings={"encode": 0.123456}, exif_orientation=6, versions={"promptcrop": "x", "model": "m", "decoder": None},
    )
    expected = {
        "schema": 1, "input": None, "image_size": [240, 160], "exif_orientation": 6, "query": "a green square",
        "query_image": None, "mode": "zeroshot", "region": [150.0, 30.0, 210.0, 90.0],
        "phrases": ["a green square"], "truncated": [],
        "grounding": [{"phrase": "a green square", "box": [150.0, 30, 210, 90], "logit": 1.5}], "fallback": None,
        "crops": [
            {"rank": 1, "ratio": "16:9", "box": [10, 20, 170, 110], "score": 0.812346, "size": [160, 90],
             "fits": True, "padded": False},
            {"rank": 1, "ratio": "1:4", "box": [-10, -40, 90, 360], "score": 0.25, "size": [50, 200],
             "fits": True, "padded": True, "pad_color": [1, 2, 3]},
        ],
        "timings": {"encode": 0.1235}, "versions": {"promptcrop": "x", "model": "m", "decoder": None},
    }
    assert build_record(pred) == expected
    json.dumps(expected)  # JSON-ready


def test_an_offline_record_has_no_file_names_and_the_callers_labels():
    pred = Predictor(model=None).predict(_photo(), aspect=["16:9", "4x5"], k=2, fit="crop")
    record = build_record(pred)
    assert record["schema"] == RECORD_SCHEMA and record["mode"] == "offline" and record["input"] is None
    assert "overlay" not in record and "fingerprint" not in record
    assert all("file" not in c for c in record["crops"])
    assert {c["ratio"] for c in record["crops"]} == {"16:9", "4x5"}  # the caller's labels, as typed
    assert [c["box"] for c in record["crops"]] == [list(c.box) for c in pred]
    assert [c["size"] for c in record["crops"]] == [[c.box[2] - c.box[0], c.box[3] - c.box[1]] for c in pred]
    assert record["versions"] == versions(None, None, "offline") == {
        "promptcrop": __version__, "model": None, "decoder": None}


def test_record_with_files_names_each_crop_and_the_overlay():
    pred = Predictor(model=None).predict(_photo(), aspect="1:1", k=2)
    files = [f"p.{c.rank}.png" for c in pred]
    record = build_record(pred, input="in/p.png", files=files, overlay="p.overlay.png", explain=True,
                          fingerprint="f00")
    assert [c["file"] for c in record["crops"]] == files
    assert record["overlay"] == "p.overlay.png" and record["fingerprint"] == "f00" and record["input"] == "in/p.png"
    assert all("explain" in c for c in record["crops"])


def test_request_keeps_each_ratio_label_and_first_label_of_a_ratio_wins():
    request = CropRequest.build(aspect=["16:9", "32:18", "1:1", 1.5])
    assert request.labels == ("16:9", "1:1", "1.5")
    assert CropRequest.build().labels == ("original",)
    assert CropRequest.build(size="1080x1350").labels == ("1080x1350",)
    assert request.with_aspects(["4:5"]).labels == ("4:5",) and request.with_aspects(None) is request


def test_original_and_size_labels_reach_the_crops():
    predictor = Predictor(model=None)
    assert {c.ratio for c in predictor.predict(_photo(), k=1)} == {"original"}
    sized = predictor.predict(_photo(), k=1, size="300x200")
    assert [c.ratio for c in sized] == ["300x200"] and build_record(sized)["crops"][0]["size"] == [300, 200]
