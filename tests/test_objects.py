import struct
from pathlib import Path

import numpy as np
import pytest

from optional import require_object_detector
from promptcrop import boxes as B
from promptcrop.saliency import objects as O


@pytest.fixture(scope="module")
def detector() -> O.ObjectDetector:
    require_object_detector()
    return O.ObjectDetector()


def stored_anchors(path) -> np.ndarray:
    """The fixed SSD anchors in the model file's MediaPipe metadata: a flatbuffer vector of 19206
    tables of four floats (x_centre, y_centre, width, height), found by its length."""
    data = path.read_bytes()
    count = len(O.anchors())
    marker = struct.pack("<I", count)
    start = data.find(marker)
    while start >= 0:
        offsets = np.frombuffer(data, dtype="<u4", count=count, offset=start + 4).astype(np.int64)
        tables = start + 4 + 4 * np.arange(count) + offsets
        if tables.max() < len(data):
            rows = []
            for table in tables:
                vtable = table - struct.unpack_from("<i", data, table)[0]
                fields = struct.unpack_from("<4H", data, vtable + 4)
                rows.append([struct.unpack_from("<f", data, table + f)[0] if f else 0.0 for f in fields])
            return np.array(rows)
        start = data.find(marker, start + 4)
    raise AssertionError("no anchor table in the model file")


def test_the_generated_anchors_are_the_ones_stored_in_the_model(detector):
    np.testing.assert_allclose(O.anchors(), stored_anchors(O.model_path()), atol=1e-6)


def test_labels_come_from_the_model_file(detector):
    assert len(detector.labels) == 90
    assert detector.labels[:4] == ("person", "bicycle", "car", "motorcycle")
    assert {"dog", "horse", "bird", "giraffe"} <= set(detector.labels)


@pytest.mark.parametrize(
    "name, label, annotated",
    [  # subject boxes of benchmarks/real_photos_annotations.json
        ("astronaut", "person", [20, 14, 368, 512]),
        ("chelsea", "cat", [45, 0, 390, 290]),
        ("camera", "person", [0, 63, 335, 512]),
    ],
)
def test_real_photos_subject_is_found_where_it_is(detector, name, label, annotated):
    import skimage.data

    pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    found = detector.detect(pixels)
    assert found.labels[0] == label and found.scores[0] > 0.6
    assert B.elementwise_iou(found.boxes[0], np.array(annotated, float)) > 0.7


def test_a_photo_without_people_or_animals_has_none(detector):
    import skimage.data

    found = detector.detect(skimage.data.coffee()).of({"person", "cat", "dog", "bird", "horse"})
    assert len(found) == 0 and found.boxes.shape == (0, 4)


def test_boxes_follow_the_image_given_whatever_its_size(detector):
    import skimage.data
    from PIL import Image

    pixels = skimage.data.astronaut()
    small = detector.detect(pixels)
    large = detector.detect(Image.fromarray(pixels).resize((1024, 768)))
    assert large.labels[0] == small.labels[0] == "person"
    np.testing.assert_allclose(large.boxes[0] / [1024, 768, 1024, 768], small.boxes[0] / [512, 512, 512, 512],
                               atol=0.03)
    assert (large.boxes[:, 2:] <= [1024, 768]).all() and (large.boxes >= 0).all()


def test_detections_are_best_first_and_bounded(detector):
    import skimage.data

    few = O.ObjectDetector(O.ObjectDetectorConfig(min_score=0.05, max_objects=3))
    found = few.detect(skimage.data.astronaut())
    assert len(found) == 3 and list(found.scores) == sorted(found.scores, reverse=True)
    assert len(detector.detect(np.zeros((320, 320, 3), np.uint8))) == 0


def test_objects_of_keeps_the_named_labels_in_order():
    found = O.Objects(np.arange(12, dtype=float).reshape(3, 4), np.array([0.9, 0.8, 0.7]), ("dog", "car", "person"))
    people = found.of({"person", "dog"})
    assert people.labels == ("dog", "person") and people.scores.tolist() == [0.9, 0.7]
    assert people.boxes.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(min_score=0.0), "min_score"), (dict(min_score=1.0), "min_score"), (dict(nms_iou=0.0), "nms_iou"),
     (dict(max_objects=0), "max_objects"), (dict(threads=0), "threads")],
)
def test_config_is_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        O.ObjectDetectorConfig(**kwargs)


def test_a_missing_model_gives_none_and_one_notice(detectors_settled, monkeypatch, capsys):
    monkeypatch.setattr(O, "model_path", lambda: None)
    monkeypatch.setattr(O, "runtime_available", lambda: True)
    monkeypatch.setattr(O, "_DEFAULT", None)
    monkeypatch.setattr(O, "_DEFAULT_TRIED", False)
    assert O.default_object_detector() is None and O.default_object_detector() is None
    err = capsys.readouterr().err
    assert err.count("object detector not installed") == 1 and len(err.strip().splitlines()) == 1
    with pytest.raises(RuntimeError, match="model file is missing"):
        O.ObjectDetector()


def test_whether_a_detector_is_expected_is_known_without_waiting_for_its_build(detectors_settled, monkeypatch,
                                                                               capsys):
    monkeypatch.setattr(O, "model_path", lambda: Path("efficientdet_lite0.tflite"))
    monkeypatch.setattr(O, "runtime_available", lambda: True)
    monkeypatch.setattr(O, "_DEFAULT", None)
    monkeypatch.setattr(O, "_DEFAULT_TRIED", False)
    assert O.object_detector_expected()  # installed, not built yet
    monkeypatch.setattr(O, "_DEFAULT_TRIED", True)
    with O._DEFAULT_LOCK:
        assert O.object_detector_expected()  # being built
    assert not O.object_detector_expected()  # tried and failed
    monkeypatch.setattr(O, "_DEFAULT", object())
    assert O.object_detector_expected()  # built
    monkeypatch.setattr(O, "model_path", lambda: None)
    monkeypatch.setattr(O, "_DEFAULT", None)
    monkeypatch.setattr(O, "_DEFAULT_TRIED", False)
    assert not O.object_detector_expected() and not O.object_detector_expected()  # not installed
    assert capsys.readouterr().err.count("object detector not installed") == 1  # said once, as before


def test_no_notice_without_the_runtime(detectors_settled, monkeypatch, capsys):
    monkeypatch.setattr(O, "runtime_available", lambda: False)
    monkeypatch.setattr(O, "_DEFAULT", None)
    monkeypatch.setattr(O, "_DEFAULT_TRIED", False)
    assert O.default_object_detector() is None
    assert capsys.readouterr().err == ""


def test_a_file_that_is_not_the_model_is_refused(tmp_path):
    require_object_detector()
    from promptcrop.saliency import faces as F

    with pytest.raises(RuntimeError, match="not the EfficientDet-Lite0 model|no label list"):
        O.ObjectDetector(path=F.model_path())


def test_only_the_labels_asked_for_are_looked_for(detector):
    import skimage.data

    pixels = skimage.data.astronaut()
    every = detector.detect(pixels)
    people = detector.detect(pixels, {"person"})
    assert set(people.labels) == {"person"} and len(every) > len(people)
    np.testing.assert_allclose(people.boxes[0], every.of({"person"}).boxes[0])
    with pytest.raises(ValueError, match="no label 'unicorn'"):
        detector.detect(pixels, {"unicorn"})


def test_a_model_file_that_cannot_be_used_gives_none_and_one_line(detectors_settled, monkeypatch, capsys, tmp_path):
    broken = tmp_path / "efficientdet_lite0.tflite"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(O, "model_path", lambda: broken)
    monkeypatch.setattr(O, "runtime_available", lambda: True)
    monkeypatch.setattr(O, "_DEFAULT", None)
    monkeypatch.setattr(O, "_DEFAULT_TRIED", False)
    assert O.default_object_detector() is None and O.default_object_detector() is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("promptcrop: object detector unusable (")


def test_label_requests_are_checked(detector):
    pixels = np.zeros((64, 64, 3), np.uint8)
    assert len(detector.detect(pixels, set())) == 0  # nothing asked for, nothing found
    with pytest.raises(ValueError, match="collection of label names"):
        detector.detect(pixels, "person")
    with pytest.raises(ValueError, match="no label '\\?\\?\\?'"):
        detector.detect(pixels, {"???"})


def test_the_best_labels_are_each_anchors_maximum_over_the_labels_asked_for():
    """The anchors kept, their best score and its label are those of the maximum over the score
    columns asked for, found without a maximum over every row (random scores, ties included)."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        anchors, labels = int(rng.integers(1, 300)), int(rng.integers(1, 20))
        scores = np.round(rng.random((anchors, labels), dtype=np.float32) ** int(rng.integers(1, 6)), 2)
        columns = np.sort(rng.choice(labels, int(rng.integers(1, labels + 1)), replace=False))
        keep, best, label_ids = O._best_labels(scores, columns, 0.3)
        among = scores[:, columns]
        expected = np.flatnonzero(among.max(axis=1) >= 0.3)
        np.testing.assert_array_equal(keep, expected)
        np.testing.assert_array_equal(best, among[expected].max(axis=1))
        np.testing.assert_array_equal(label_ids, columns[among[expected].argmax(axis=1)])
