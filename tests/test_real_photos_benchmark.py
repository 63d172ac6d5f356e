"""``benchmarks/real_photos.py``: its development set and annotations stay consistent (the figures
themselves are for the benchmark run)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from optional import require
from paths import benchmark_module


@pytest.fixture(scope="module")
def real_photos():
    with benchmark_module("real_photos") as module:
        yield module


def test_every_development_photo_is_annotated_and_ships_in_a_dev_package(real_photos):
    annotations = json.loads(real_photos.DEFAULT_ANNOTATIONS.read_text())
    assert set(annotations) == set(real_photos.PACKAGE_PHOTOS) | set(real_photos.DEV_VARIANTS)
    for name in real_photos.PACKAGE_PHOTOS:
        assert real_photos.package_photo(name).is_file(), name
    for name, ann in annotations.items():
        width, height = ann["size"]
        for box in [ann["subject"], *ann["faces"]]:
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, (name, box)


@pytest.mark.parametrize("name", ["astronaut_caption.jpg", "chelsea_letterbox.jpg", "grace_hopper_beside_china.jpg",
                                  "astronaut_small_in_china.jpg", "grace_hopper_corner_text.jpg"])
def test_variant_annotations_are_their_sources_moved_as_the_variant_moves_pixels(real_photos, name):
    from PIL import Image

    annotations = json.loads(real_photos.DEFAULT_ANNOTATIONS.read_text())
    source, how = real_photos.DEV_VARIANTS[name]
    with Image.open(real_photos.package_photo(source)) as img:
        size = img.size
        variant, _ = real_photos.make_variant(img, how)
    expected = real_photos.variant_annotation(annotations[source], size, how)
    assert list(variant.size) == annotations[name]["size"] == expected["size"]
    assert np.allclose(annotations[name]["subject"], expected["subject"])
    assert np.allclose(annotations[name]["faces"], expected["faces"])


def test_shared_development_photos_are_annotated_inside_their_frames(real_photos):
    annotations = json.loads(real_photos.DEV_PHOTOS_ANNOTATIONS.read_text())
    assert len(annotations) == 31
    assert not set(annotations) & (set(real_photos.PACKAGE_PHOTOS) | set(real_photos.DEV_VARIANTS))
    for name, ann in annotations.items():
        width, height = ann["size"]
        for box in [ann["subject"], *ann["faces"]]:
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, (name, box)
    folder = real_photos.default_shared_photos()
    if folder is None:
        pytest.skip("shared development photos not found")
    from PIL import Image, ImageOps

    for name, ann in annotations.items():
        with Image.open(folder / name) as img:
            assert list(ImageOps.exif_transpose(img).size) == ann["size"], name


def test_halves_keep_variants_with_their_source_and_both_hold_photos_and_faces(real_photos):
    annotations = json.loads(real_photos.DEFAULT_ANNOTATIONS.read_text())
    annotations.update(json.loads(real_photos.DEV_PHOTOS_ANNOTATIONS.read_text()))
    for name, (source, _) in real_photos.DEV_VARIANTS.items():
        assert real_photos.half_of(name) == real_photos.half_of(source), name
    for half in real_photos.HALVES:
        names = [n for n in annotations if real_photos.half_of(n) == half]
        sources = [n for n in names if n not in real_photos.DEV_VARIANTS]
        assert len(sources) >= 15, half
        assert sum(len(annotations[n]["faces"]) for n in sources) >= 10, half


def test_centre_crop_is_the_largest_crop_of_each_ratio_centred(real_photos, tmp_path):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.new("RGB", (300, 100)).save(path)
    crops = real_photos.run_centre(path)
    assert crops["1:1"] == (100.0, 0.0, 200.0, 100.0)
    x1, y1, x2, y2 = crops["16:9"]
    assert (y1, y2) == (0.0, 100.0) and x1 + x2 == 300.0 and abs((x2 - x1) / 100 - 16 / 9) < 1e-9


def test_the_report_names_each_peer_version_and_whether_the_detectors_ran(real_photos):
    pyvips = require("pyvips")
    from importlib.metadata import version

    ran = "\n".join(real_photos.versions(pyvips, 7, 5))
    assert f"smartcrop {version('smartcrop')}" in ran and f"pyvips {version('pyvips')}" in ran
    assert "BlazeFace" in ran and "7 calls" in ran and "libvips 8." in ran
    assert "EfficientDet-Lite0" in ran and "5 calls" in ran
    assert "\n".join(real_photos.versions(pyvips, 0, 0)).count("did not run") == 2


def test_count_calls_counts_and_passes_results_through(real_photos):
    class Thing:
        def twice(self, x):
            return 2 * x

    thing = Thing()
    calls = real_photos.count_calls(thing, "twice")
    assert [thing.twice(1), thing.twice(2)] == [2, 4] and calls == [2]


def test_time_ratios_are_promptcrops_time_over_each_peers(real_photos):
    ratios = real_photos.time_ratios({"promptcrop": 2.0, "smartcrop": 4.0, "libvips": 1.0, "centre": 0.1})
    assert ratios == {"time_ratio_smartcrop": 0.5, "time_ratio_libvips": 2.0}
    assert math.isnan(real_photos.time_ratios({"promptcrop": 0.0, "smartcrop": 0.0, "libvips": 0.0})["time_ratio_libvips"])


def test_another_set_reads_its_annotations_and_a_missing_photo_or_file_is_a_one_line_exit(real_photos, tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "_scope__b.jpg").write_bytes(b"")  # an npm scope's photo: a name, not a note
    notes = tmp_path / "ann.json"
    entry = {"subject": None, "faces": [], "size": [1, 1]}
    notes.write_text(json.dumps({"_about": "notes", "a.jpg": entry, "_scope__b.jpg": entry}))
    photos, annotations = real_photos.photo_set(tmp_path, notes, tmp_path, None)
    assert photos == {"a.jpg": tmp_path / "a.jpg", "_scope__b.jpg": tmp_path / "_scope__b.jpg"}
    assert list(annotations) == ["a.jpg", "_scope__b.jpg"]
    with pytest.raises(SystemExit, match="cannot read the annotations"):
        real_photos.photo_set(tmp_path, tmp_path / "none.json", tmp_path, None)
    notes.write_text(json.dumps({"b.jpg": {"subject": None, "faces": [], "size": [1, 1]}}))
    with pytest.raises(SystemExit, match=r"1 annotated photos are missing, such as b\.jpg"):
        real_photos.photo_set(tmp_path, notes, tmp_path, None)
