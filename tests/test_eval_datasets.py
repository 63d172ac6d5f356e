import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from promptcrop.data.datasets import load_caption_set, load_gaic_eval, load_phrase_boxes
from promptcrop.errors import DatasetError


def _image(path: Path, width: int = 60, height: int = 40) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height)).save(path)


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _image(tmp_path / "imgs" / "a.jpg")
    (tmp_path / "sets").mkdir()
    return tmp_path


GOOD = {"image": "../imgs/a.jpg", "query": "a dog", "boxes": [[0, 0, 30, 20], [5, 5, 60, 40]]}


def test_caption_set_resolves_images_relative_to_the_json(folder):
    path = _write(folder / "sets" / "eval.json", [GOOD, dict(GOOD, query="a cat")])
    samples = load_caption_set(path)
    assert [s.query for s in samples] == ["a dog", "a cat"]
    assert samples[0].image_path.resolve() == (folder / "imgs" / "a.jpg").resolve()
    assert samples[0].boxes_xyxy_px.shape == (2, 4)
    np.testing.assert_array_equal(samples[0].boxes_xyxy_px[1], [5, 5, 60, 40])


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("not an object", "expected an object"),
        ({"query": "x", "boxes": [[0, 0, 1, 1]]}, "missing key 'image'"),
        (dict(GOOD, query="  "), "'query' must be a non-empty string"),
        (dict(GOOD, boxes=[]), "'boxes' must be a non-empty list"),
        (dict(GOOD, boxes=[[0, 0, 10]]), r"box 0 must be \[x1, y1, x2, y2\] numbers"),
        (dict(GOOD, boxes=[[0, 0, 10, 10], [0, 0, "a", 3]]), "box 1 must be"),
        (dict(GOOD, boxes=[[0, 0, True, 10]]), "box 0 must be"),
        (dict(GOOD, boxes=[[10, 0, 10, 10]]), "box 0 .* is empty"),
        (dict(GOOD, boxes=[[0, 9, 10, 3]]), "box 0 .* is empty"),
        (dict(GOOD, boxes=[[0, 0, 70, 10]]), "box .* reaches outside the 60x40 image"),
        (dict(GOOD, image="../imgs/missing.jpg"), ".*missing.jpg: missing image file"),
    ],
)
def test_caption_set_names_file_and_entry_of_a_bad_entry(folder, entry, reason):
    path = _write(folder / "sets" / "eval.json", [GOOD, entry])
    with pytest.raises(DatasetError, match=f"eval.json: entry 1: {reason}"):
        load_caption_set(path)


def test_caption_set_file_level_errors(folder):
    with pytest.raises(DatasetError, match="nope.json: missing data set file"):
        load_caption_set(folder / "nope.json")
    bad = folder / "bad.json"
    bad.write_text('[\n{"image": }\n]')
    with pytest.raises(DatasetError, match="bad.json:2: invalid JSON"):
        load_caption_set(bad)
    with pytest.raises(DatasetError, match="expected a JSON list"):
        load_caption_set(_write(folder / "obj.json", {"image": "x"}))


def test_phrase_boxes(folder):
    entry = {"image": "../imgs/a.jpg", "objects": [{"phrase": "red circle", "box": [1, 2, 11, 12]}]}
    path = _write(folder / "sets" / "objects.json", [entry])
    (sample,) = load_phrase_boxes(path)
    assert sample.phrases == ("red circle",)
    np.testing.assert_array_equal(sample.boxes_xyxy_px, [[1, 2, 11, 12]])
    broken = dict(entry, objects=[{"phrase": "red circle"}])
    with pytest.raises(DatasetError, match="entry 1: missing key 'box'"):
        load_phrase_boxes(_write(path, [entry, broken]))


def _gaic(root: Path, annotations: dict[str, str]) -> Path:
    for image_id, text in annotations.items():
        _image(root / "images" / "test" / f"{image_id}.jpg")
        ann = root / "annotations" / "test" / f"{image_id}.txt"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(text)
    return root


def test_gaic_eval_returns_candidates_mos_and_captions(tmp_path):
    root = _gaic(tmp_path, {"1": "0 0 40 60 4.2\n0 10 30 50 2.5\n"})
    _write(tmp_path / "test.json", {"1.jpg": "a boat"})
    (sample,) = load_gaic_eval(root, "test", text_labels=tmp_path)
    assert sample.caption == "a boat"
    np.testing.assert_array_equal(sample.crops_xyxy_px, [[0, 0, 60, 40], [10, 0, 50, 30]])
    np.testing.assert_array_equal(sample.mos, [4.2, 2.5])


def test_gaic_eval_refuses_bad_files_and_images_without_crops(tmp_path):
    root = _gaic(tmp_path / "a", {"1": "0 0 40 60 4\n", "2": "0 0 40 60 -2\n"})
    with pytest.raises(DatasetError, match=r"1 image\(s\) have no valid crop .* e.g. 2.txt"):
        load_gaic_eval(root, "test")
    root = _gaic(tmp_path / "b", {"1": "0 0 40 60 4\n", "2": "0 0 40\n"})
    with pytest.raises(DatasetError, match="2.txt:1: expected 5 numbers"):
        load_gaic_eval(root, "test")
