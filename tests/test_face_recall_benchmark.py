"""``benchmarks/face_recall.py``: its matching is one to one, and it counts what it finds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optional import require_face_detector
from paths import benchmark_module


@pytest.fixture(scope="module")
def face_recall():
    with benchmark_module("face_recall") as module:
        yield module


def test_a_detection_matches_one_face_and_only_one_that_it_mostly_covers(face_recall):
    faces = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    found = np.array([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0], [50.0, 50.0, 200.0, 200.0]])
    hit, used = face_recall.matched(found, faces)
    # the first two faces overlap the first detection; it counts for one; the third face is a
    # sliver of a box far larger than it: no match
    assert hit.tolist() == [True, False, False] and used.tolist() == [True, False, False]
    assert [a.shape for a in face_recall.matched(np.zeros((0, 4)), faces)] == [(3,), (0,)]


def test_astronaut_face_is_found_and_a_made_up_one_is_missed(face_recall, tmp_path, capsys):
    require_face_detector()
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "astronaut.png")
    faces = [[168, 55, 285, 175], [400, 400, 440, 440]]  # her face, and a patch of her suit
    (tmp_path / "ann.json").write_text(json.dumps({"astronaut.png": {"subject": None, "faces": faces,
                                                                      "size": [512, 512]}}))
    assert face_recall.main([str(tmp_path), "--annotations", str(tmp_path / "ann.json"), "--one-set", "x",
                             "--list"]) == 0
    out = capsys.readouterr().out
    assert "x: 1 of 2 faces found, 0 false" in out and "missed astronaut.png: [400, 400, 440, 440]" in out
    assert out.strip().splitlines()[-1] == "RESULT faces=2 found=1 recall=0.500 false=0"
