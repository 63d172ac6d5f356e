import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paths import GAIC_TEXT_DIR
from promptcrop.data import gaic
from promptcrop.data.gaic import GaicDataset, read_annotation
from promptcrop.errors import DatasetError
from promptcrop.train.targets import sample_targets, to_targets

REAL_TEXT_LABELS = GAIC_TEXT_DIR


def _write_image(path: Path, width: int = 40, height: int = 30, exif_orientation=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (width, height), (10, 20, 30))
    if exif_orientation is None:
        img.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(path, exif=exif)


def _write_gaic(root: Path, split: str = "val", entries: dict[str, str] | None = None) -> Path:
    """GAIC layout with one 40x30 image per entry; entries map id -> annotation text."""
    entries = entries or {"001": "0 0 30 40 4.5\n2 4 28 36 3.0\n"}
    for image_id, text in entries.items():
        _write_image(root / "images" / split / f"{image_id}.jpg")
        ann = root / "annotations" / split / f"{image_id}.txt"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(text)
    return root


def test_read_annotation_converts_row_first_to_xyxy_and_skips_invalid(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("10 20 110 220 3.5\n5 6 50 60 -2\n\n0 0 100 200 4\n")
    crops, mos = read_annotation(path)
    np.testing.assert_array_equal(crops, [[20, 10, 220, 110], [0, 0, 200, 100]])
    np.testing.assert_array_equal(mos, [3.5, 4.0])


def test_read_annotation_all_invalid_gives_empty_arrays(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 2 3 4 -2\n")
    crops, mos = read_annotation(path)
    assert crops.shape == (0, 4) and mos.shape == (0,)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("0 0 10 10 4\n1 2 3\n", 2, "expected 5 numbers"),
        ("0 0 10 10 abc\n", 1, "not a number"),
        ("0 0 10 10 4\n\n0 0 10 10 7\n", 3, "score 7 is neither a MOS"),
        ("5 0 5 10 3\n", 1, "empty crop"),
        ("0 -1 10 10 3\n", 1, "negative coordinate"),
    ],
)
def test_read_annotation_names_file_and_line(tmp_path, text, line, reason):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=f"bad.txt:{line}: {reason}"):
        read_annotation(path)


def test_read_annotation_missing_and_empty_files(tmp_path):
    with pytest.raises(DatasetError, match="nope.txt: missing annotation file"):
        read_annotation(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(DatasetError, match="empty.txt: empty annotation file"):
        read_annotation(tmp_path / "empty.txt")


def test_dataset_reads_samples_with_captions(tmp_path):
    root = _write_gaic(tmp_path, "val", {"002": "0 0 30 40 2\n", "001": "0 4 30 36 4.5\n"})
    labels = tmp_path / "text"
    labels.mkdir()
    (labels / "valid.json").write_text(json.dumps({"001.jpg": "a cat", "002.jpg": "a dog"}))
    ds = GaicDataset(root, "val", text_labels=labels)
    assert len(ds) == 2 and ds.skipped == []
    first = ds[0]
    assert first.image_id == "001" and first.caption == "a cat"
    assert first.image_size == (40, 30)
    np.testing.assert_array_equal(first.crops_xyxy_px, [[4, 0, 36, 30]])
    assert ds.load_image(0).shape == (30, 40, 3)
    # a caption file can also be passed directly
    assert GaicDataset(root, "val", text_labels=labels / "valid.json")[1].caption == "a dog"


def test_dataset_stops_on_every_kind_of_bad_file_and_lists_them(tmp_path):
    root = _write_gaic(
        tmp_path, "train", {"good": "0 0 30 40 4\n", "badline": "0 0 30 40 4\n0 0 30\n"}
    )
    _write_image(root / "images" / "train" / "noann.jpg")
    (root / "annotations" / "train" / "noimg.txt").write_text("0 0 30 40 4\n")
    (root / "annotations" / "train" / "outside.txt").write_text("0 0 30 45 4\n")
    _write_image(root / "images" / "train" / "outside.jpg")
    with pytest.raises(DatasetError) as info:
        GaicDataset(root, "train")
    message = str(info.value)
    assert "badline.txt:2: expected 5 numbers" in message
    assert "noann.txt: missing annotation file" in message
    assert "noimg.jpg: missing image" in message
    assert "outside.txt: 1 crop(s) reach outside the 40x30 image" in message
    assert "4 bad file(s)" in message and "\n" not in message

    ds = GaicDataset(root, "train", skip_bad=True)
    assert [s.image_id for s in ds] == ["good"]
    assert len(ds.skipped) == 4
    assert any(p.location.endswith("badline.txt:2") for p in ds.skipped)


def test_dataset_requires_a_caption_per_image_when_labels_given(tmp_path):
    root = _write_gaic(tmp_path, "test", {"001": "0 0 30 40 4\n", "002": "0 0 30 40 4\n"})
    labels = tmp_path / "test.json"
    labels.write_text(json.dumps({"001.jpg": "a cat"}))
    with pytest.raises(DatasetError, match="test.json: no caption for 002.jpg"):
        GaicDataset(root, "test", text_labels=labels)
    assert len(GaicDataset(root, "test", text_labels=labels, skip_bad=True)) == 1


def test_bad_caption_file_and_missing_folders_always_raise(tmp_path):
    root = _write_gaic(tmp_path, "val")
    (tmp_path / "valid.json").write_text('{"001.jpg": "a",\n "002.jpg": }')
    with pytest.raises(DatasetError, match=r"valid.json:2: invalid JSON"):
        GaicDataset(root, "val", text_labels=tmp_path, skip_bad=True)
    (tmp_path / "valid.json").write_text('["a"]')
    with pytest.raises(DatasetError, match="expected an object"):
        GaicDataset(root, "val", text_labels=tmp_path)
    with pytest.raises(DatasetError, match="missing GAIC folder"):
        GaicDataset(root, "train")
    with pytest.raises(ValueError, match="unknown GAIC split"):
        GaicDataset(root, "valid")


def test_exif_rotated_image_reports_upright_size(tmp_path):
    path = tmp_path / "r.jpg"
    _write_image(path, 40, 30, exif_orientation=6)
    assert gaic.read_image_size(path) == (30, 40)
    assert gaic.load_rgb(path).shape == (40, 30, 3)


def test_to_targets_normalises_and_marks_ties_at_max_as_good(tmp_path):
    crops = np.array([[0, 0, 40, 30], [10, 0, 30, 15], [0, 0, 20, 30]], dtype=float)
    targets = to_targets(crops, np.array([3.5, 3.5, 2.0]), (40, 30))
    torch.testing.assert_close(
        targets.boxes_cxcywh,
        torch.tensor([[0.5, 0.5, 1, 1], [0.5, 0.25, 0.5, 0.5], [0.25, 0.5, 0.5, 1]]),
    )
    assert targets.good.tolist() == [True, True, False]
    empty = to_targets(np.zeros((0, 4)), np.zeros(0), (40, 30))
    assert len(empty) == 0


def test_sample_targets_use_its_image_size(tmp_path):
    root = _write_gaic(tmp_path, "val", {"001": "0 0 30 20 4.5\n"})
    targets = sample_targets(GaicDataset(root, "val")[0])
    torch.testing.assert_close(targets.boxes_cxcywh, torch.tensor([[0.25, 0.5, 0.5, 1.0]]))
    assert targets.good.tolist() == [True]


@pytest.mark.skipif(not REAL_TEXT_LABELS.is_dir(), reason="real GAIC captions not available")
def test_real_caption_files_have_the_expected_format_and_counts():
    counts = {"train": 2636, "val": 200, "test": 500}
    for split, count in counts.items():
        labels = gaic.load_text_labels(gaic.text_label_path(REAL_TEXT_LABELS, split))
        assert len(labels) == count
        assert all(name.endswith(".jpg") and caption.strip() for name, caption in labels.items())


@pytest.mark.parametrize("size, count", [((300, 300), 90), ((400, 300), 87), ((300, 400), 87)])
def test_candidate_grid_matches_gaic_counts_and_rules(size, count):
    width, height = size
    grid = gaic.candidate_grid(width, height)
    assert grid.shape == (count, 4)
    w, h = grid[:, 2] - grid[:, 0], grid[:, 3] - grid[:, 1]
    assert (w * h >= 0.49 * width * height).all()
    assert ((w / h > 0.5) & (w / h < 2)).all()
    # corners at cell centres: x1 in the first 4 of 12 cells, x2 in the last 4
    assert grid[:, 0].min() == width // 24 and grid[:, 2].max() == (23 * width) // 24
    assert (grid[:, 0] < width / 3).all() and (grid[:, 2] > 2 * width / 3).all()
    np.testing.assert_array_equal(grid, np.floor(grid))
