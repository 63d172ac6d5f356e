"""ndimage_lite: the NumPy stand-ins give what scipy.ndimage and scikit-image give."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu

from promptcrop.saliency import ndimage_lite as L

SHAPES = [(1, 1), (2, 7), (5, 3), (9, 9), (17, 31), (64, 48)]


def maps(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [rng.random(shape).astype(dtype) for shape in SHAPES]


@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "wrap", "constant"])
def test_correlate1d_matches_scipy_in_every_mode(mode):
    rng = np.random.default_rng(1)
    for values in maps(np.float64):
        weights = rng.normal(size=5)
        for axis in (0, 1):
            ours = L.correlate1d(values, weights, axis, mode)
            np.testing.assert_allclose(ours, ndimage.correlate1d(values, weights, axis, mode=mode), atol=1e-12)


@pytest.mark.parametrize("sigma", [0.5, 1.28, 2.0, 6.0])
def test_gaussian_filter_matches_scipy(sigma):
    for values in maps():
        ours = L.gaussian_filter(values, sigma)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, ndimage.gaussian_filter(values, sigma), atol=2e-7)


def test_uniform_filter_and_sobel_match_scipy():
    for values in maps(np.float64):
        np.testing.assert_allclose(
            L.uniform_filter(values, 3, mode="nearest"), ndimage.uniform_filter(values, 3, mode="nearest"), atol=1e-12
        )
    for values in maps():
        for axis in (0, 1):
            np.testing.assert_allclose(L.sobel(values, axis), ndimage.sobel(values, axis), atol=1e-6)


def test_laplace_matches_scipy():
    for values in maps():
        ours = L.laplace(values)
        assert ours.dtype == values.dtype
        np.testing.assert_allclose(ours, ndimage.laplace(values), atol=1e-5)


def test_grey_opening_matches_scipy():
    for values in maps():
        for size in ((3, 3), (1, 5), (5, 3)):
            np.testing.assert_array_equal(L.grey_opening(values, size), ndimage.grey_opening(values, size=size))


def test_rank_filters_and_closing_match_scipy():
    for values in maps() + [(v * 255).astype(np.uint8) for v in maps()]:
        for size in ((3, 3), (1, 5), (9, 7)):
            np.testing.assert_array_equal(L.minimum_filter(values, size),
                                          ndimage.minimum_filter(values, size=size, mode="nearest"))
            np.testing.assert_array_equal(L.maximum_filter(values, size),
                                          ndimage.maximum_filter(values, size=size, mode="nearest"))
            np.testing.assert_array_equal(L.grey_closing(values, size), ndimage.grey_closing(values, size=size))


def masks():
    rng = np.random.default_rng(2)
    out = [np.zeros((4, 5), bool), np.ones((6, 3), bool), np.eye(7, dtype=bool)]
    out += [rng.random(shape) < p for shape in SHAPES for p in (0.3, 0.55, 0.8)]
    spiral = np.zeros((21, 21), bool)  # one long winding component
    for i in range(0, 11, 2):
        spiral[i, i:21 - i] = spiral[20 - i, i:21 - i] = True
        spiral[i:21 - i, 20 - i] = True
        spiral[i + 2:21 - i, i] = True
    return out + [spiral, ~spiral]


def test_binary_opening_matches_scipy():
    for mask in masks():
        np.testing.assert_array_equal(L.binary_opening(mask), ndimage.binary_opening(mask))


def test_label_find_objects_and_statistics_match_scipy():
    rng = np.random.default_rng(3)
    for mask in masks():
        ours, count = L.label(mask)
        theirs, their_count = ndimage.label(mask)
        assert count == their_count
        np.testing.assert_array_equal(ours, theirs)
        assert L.find_objects(ours) == ndimage.find_objects(theirs)
        if count:
            values = rng.random(mask.shape).astype(np.float32)
            ids = np.arange(1, count + 1)
            np.testing.assert_allclose(L.sum_labels(values, ours, ids), ndimage.sum_labels(values, theirs, ids))
            np.testing.assert_array_equal(L.maximum(values, ours, ids), ndimage.maximum(values, theirs, ids))


def test_threshold_otsu_matches_scikit_image():
    rng = np.random.default_rng(4)
    cases = maps() + [np.concatenate([rng.normal(0.2, 0.05, 500), rng.normal(0.7, 0.1, 300)]).astype(np.float32)]
    for values in cases + [np.full((3, 3), 0.25, np.float32)]:
        assert L.threshold_otsu(values) == pytest.approx(float(threshold_otsu(values)), abs=1e-7)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="odd length"):
        L.correlate1d(np.zeros((3, 3)), [1.0, 1.0])
    with pytest.raises(ValueError, match="mode"):
        L.correlate1d(np.zeros((3, 3)), [1.0], mode="bogus")
    with pytest.raises(ValueError, match="sigma"):
        L.gaussian_filter(np.zeros((3, 3)), 0.0)
    with pytest.raises(ValueError, match="2-D"):
        L.label(np.zeros(3, bool))


def test_a_window_of_float_sides_is_refused_and_leaves_whole_sides_working():
    values = np.arange(30, dtype=np.float64).reshape(6, 5)
    with pytest.raises(TypeError):
        L.grey_opening(values, (3.0, 3.0))
    np.testing.assert_array_equal(L.grey_opening(values, (3, 3)), ndimage.grey_opening(values, size=(3, 3)))
