"""``benchmarks/real_photos.py``: its development set and annotations stay consistent (the figures
themselves are for the benchmark run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

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
