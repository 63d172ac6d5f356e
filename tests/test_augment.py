from collections import Counter

import numpy as np
import pytest

from promptcrop.train.augment import (
    AugmentConfig,
    augment,
    color_jitter,
    hflip,
    mosaic,
    mosaic_cell_size,
    random_mosaic,
)

BACKGROUND = (128, 128, 128)
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


def _target_with_rectangles(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey image with one uniquely coloured, well separated rectangle per box."""
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    fx = np.array([0.05, 0.55, 0.1, 0.6])
    fy = np.array([0.05, 0.1, 0.55, 0.6])
    boxes = np.stack(
        [fx * width, fy * height, (fx + 0.3) * width, (fy + 0.35) * height], axis=1
    ).round()
    for box, colour in zip(boxes.astype(int), COLOURS):
        image[box[1] : box[3], box[0] : box[2]] = colour
    return image, boxes


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    # values 20..100 never come near the saturated rectangle colours
    return rng.integers(20, 100, size=(height, width, 3), dtype=np.uint8)


def _colour_bbox(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """xyxy pixel bbox of the pixels (almost) equal to ``colour``."""
    close = (np.abs(image.astype(int) - np.array(colour)) <= 8).all(axis=2)
    ys, xs = np.nonzero(close)
    assert xs.size, f"colour {colour} not found"
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)


def _assert_boxes_on_rectangles(image: np.ndarray, boxes: np.ndarray) -> None:
    for box, colour in zip(boxes, COLOURS):
        np.testing.assert_allclose(_colour_bbox(image, colour), box, atol=1.0)


@pytest.mark.parametrize("grid, target_index", [(1, 0), (2, 3), (2, 1), (3, 4), (3, 8)])
def test_mosaic_maps_every_box_onto_its_pixels(grid, target_index):
    rng = np.random.default_rng(grid * 10 + target_index)
    target, boxes = _target_with_rectangles(301, 203)
    tiles = [_noise(rng, 150 + 7 * i, 180 - 5 * i) for i in range(grid * grid)]
    tiles[target_index] = target
    out = mosaic(tiles, boxes, grid, target_index, max_side=500)
    assert out.grid == grid and out.image.dtype == np.uint8
    assert max(out.image.shape[:2]) <= 500
    cell_w, cell_h = out.image.shape[1] // grid, out.image.shape[0] // grid
    # the target keeps its aspect ratio up to the rounding of the cell
    assert abs(cell_w / cell_h - 301 / 203) < 0.02
    row, col = divmod(target_index, grid)
    np.testing.assert_allclose(
        out.tile_xyxy_px, [col * cell_w, row * cell_h, (col + 1) * cell_w, (row + 1) * cell_h]
    )
    _assert_boxes_on_rectangles(out.image, out.boxes_xyxy_px)


def test_mosaic_without_max_side_keeps_the_target_pixels():
    target, boxes = _target_with_rectangles(120, 80)
    other = np.zeros((40, 50, 3), dtype=np.uint8)
    out = mosaic([other, target, other, other], boxes, 2, 1)
    assert out.image.shape == (160, 240, 3)
    np.testing.assert_array_equal(out.image[0:80, 120:240], target)
    np.testing.assert_allclose(out.boxes_xyxy_px, boxes + [120, 0, 120, 0])


def test_mosaic_rejects_bad_input():
    img = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="needs 4 images"):
        mosaic([img] * 3, np.zeros((0, 4)), 2, 0)
    with pytest.raises(ValueError, match="target_index"):
        mosaic([img] * 4, np.zeros((0, 4)), 2, 4)
    with pytest.raises(ValueError, match="uint8"):
        mosaic([img.astype(float)], np.zeros((0, 4)), 1, 0)


def test_cell_size_never_upscales():
    assert mosaic_cell_size(300, 200, 3, 450) == (150, 100)
    assert mosaic_cell_size(300, 200, 1, 4000) == (300, 200)
    assert mosaic_cell_size(300, 200, 2, None) == (300, 200)


def test_random_mosaic_draws_grids_equally_and_asks_for_the_right_tiles():
    rng = np.random.default_rng(0)
    target, boxes = _target_with_rectangles(60, 40)
    requested: list[int] = []

    def others(k):
        requested.append(k)
        return [_noise(rng, 30, 30) for _ in range(k)]

    grids = Counter()
    for _ in range(300):
        out = random_mosaic(target, boxes, others, rng, max_side=None)
        grids[out.grid] += 1
        assert out.image.shape == (40 * out.grid, 60 * out.grid, 3)
    assert set(grids) == {1, 2, 3} and min(grids.values()) > 70
    assert set(requested) == {3, 8}  # a 1x1 grid asks for nothing
    with pytest.raises(ValueError, match="returned 0 images"):
        random_mosaic(target, boxes, lambda k: [], rng, grids=(2,))


def test_hflip_twice_is_identity_and_boxes_cover_flipped_pixels():
    image, boxes = _target_with_rectangles(97, 61)
    flipped, flipped_boxes = hflip(image, boxes)
    for box, colour in zip(flipped_boxes, COLOURS):
        np.testing.assert_array_equal(_colour_bbox(flipped, colour), box)
    back, back_boxes = hflip(flipped, flipped_boxes)
    np.testing.assert_array_equal(back, image)
    np.testing.assert_allclose(back_boxes, boxes)


def test_color_jitter_is_seeded_and_zero_strength_is_identity():
    rng_img = np.random.default_rng(1)
    image = rng_img.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    a = color_jitter(image, np.random.default_rng(5))
    b = color_jitter(image, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == image.shape and a.dtype == np.uint8 and not np.array_equal(a, image)
    rng = np.random.default_rng(5)
    assert color_jitter(image, rng, 0.0, 0.0, 0.0) is image  # no copy, no round trip through PIL
    reference = np.random.default_rng(5)
    reference.permutation(3)
    assert rng.random() == reference.random()  # the same draws as with jitter: later draws unchanged


def test_augment_pipeline_keeps_boxes_on_their_pixels():
    rng = np.random.default_rng(3)
    target, boxes = _target_with_rectangles(200, 150)
    config = AugmentConfig(grids=(3,), max_side=600, flip_prob=1.0, brightness=0, contrast=0,
                           saturation=0)
    out = augment(target, boxes, lambda k: [_noise(rng, 50, 50) for _ in range(k)], rng, config)
    assert out.flipped and out.grid == 3 and out.image_size == (600, 450)
    _assert_boxes_on_rectangles(out.image, out.boxes_xyxy_px)
    tile = out.image[int(out.tile_xyxy_px[1]) : int(out.tile_xyxy_px[3]),
                     int(out.tile_xyxy_px[0]) : int(out.tile_xyxy_px[2])]
    np.testing.assert_array_equal(tile[:, ::-1], target)


def test_augment_config_validation():
    with pytest.raises(ValueError, match="grids"):
        AugmentConfig(grids=(0, 2))
    with pytest.raises(ValueError, match="flip_prob"):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValueError, match="brightness"):
        AugmentConfig(brightness=-0.1)
