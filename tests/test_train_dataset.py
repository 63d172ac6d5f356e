"""Training samples: un-augmented validation samples, seeded mosaics/flips/jitter, epoch order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from promptcrop import boxes as B
from promptcrop.data.gaic import GaicDataset
from promptcrop.train.augment import AugmentConfig
from promptcrop.train.dataset import CropTrainDataset, TrainSample, collate_samples
from promptcrop.train.synthetic import SyntheticConfig, write_gaic_dataset
from promptcrop.train.targets import sample_targets

SCENES = SyntheticConfig(width_range=(96, 128), height_range=(96, 128))


@pytest.fixture(scope="module")
def gaic(tmp_path_factory) -> GaicDataset:
    root = write_gaic_dataset(tmp_path_factory.mktemp("gaic"), SCENES, {"train": 5})
    return GaicDataset(root, "train", text_labels=root / "text")


def _mosaic_only(grid: int) -> AugmentConfig:
    return AugmentConfig(grids=(grid,), max_side=300, flip_prob=0.0, brightness=0.0, contrast=0.0,
                         saturation=0.0)


def test_without_augmentation_the_sample_is_the_image_and_its_crops(gaic) -> None:
    data = CropTrainDataset(gaic)
    sample = data[2]
    source = gaic[2]
    assert isinstance(sample, TrainSample)
    np.testing.assert_array_equal(sample.image, gaic.load_image(2))
    assert sample.caption == source.caption and sample.grid == 1 and sample.index == 2
    expected = sample_targets(source)
    torch.testing.assert_close(sample.targets.boxes_cxcywh, expected.boxes_cxcywh)
    torch.testing.assert_close(sample.targets.mos, expected.mos)


@pytest.mark.parametrize("augment", [None, AugmentConfig(), _mosaic_only(1)], ids=["val", "paper", "plain"])
def test_cached_images_give_the_same_samples(gaic, augment) -> None:
    cached_source = GaicDataset(gaic.root, "train", text_labels=gaic.text_label_file, cache_images=True)
    first = cached_source.load_image(1)
    assert cached_source.load_image(1) is first and not first.flags.writeable  # decoded once, read-only
    cached, plain = CropTrainDataset(cached_source, augment, seed=3), CropTrainDataset(gaic, augment, seed=3)
    for epoch in (0, 1):  # the second epoch reads every image from the cache
        for index in range(len(gaic)):
            a, b = cached[(epoch, index)], plain[(epoch, index)]
            np.testing.assert_array_equal(a.image, b.image)
            torch.testing.assert_close(a.targets.boxes_cxcywh, b.targets.boxes_cxcywh)


def test_best_box_is_the_highest_mos_crop(gaic) -> None:
    sample = CropTrainDataset(gaic)[0]
    best = int(np.argmax(gaic[0].mos))
    torch.testing.assert_close(sample.best_box_cxcywh, sample.targets.boxes_cxcywh[best])


def test_augmentation_is_a_function_of_seed_epoch_and_index(gaic) -> None:
    data = CropTrainDataset(gaic, AugmentConfig(max_side=300), seed=3)
    first, again = data[(4, 1)], data[(4, 1)]
    np.testing.assert_array_equal(first.image, again.image)
    torch.testing.assert_close(first.targets.boxes_cxcywh, again.targets.boxes_cxcywh)
    others = [data[(epoch, 1)].image for epoch in range(5, 9)]
    assert any(o.shape != first.image.shape or not np.array_equal(o, first.image) for o in others)
    other_seed = CropTrainDataset(gaic, AugmentConfig(max_side=300), seed=4)
    assert any(
        not np.array_equal(other_seed[(e, 1)].image, data[(e, 1)].image) for e in range(4)
    )


@pytest.mark.parametrize("grid", [2, 3])
def test_mosaic_targets_stay_in_one_tile(gaic, grid) -> None:
    data = CropTrainDataset(gaic, _mosaic_only(grid), seed=0)
    sample = data[(0, 3)]
    assert sample.grid == grid
    height, width = sample.image.shape[:2]
    boxes_px = B.model_to_image_xyxy_px(sample.targets.boxes_cxcywh.numpy(), width, height)
    # Every crop lies in one grid cell: the cell of the first crop's centre.
    cell_w, cell_h = width / grid, height / grid
    col = int(((boxes_px[0, 0] + boxes_px[0, 2]) / 2) // cell_w)
    row = int(((boxes_px[0, 1] + boxes_px[0, 3]) / 2) // cell_h)
    tile = np.array([col * cell_w, row * cell_h, (col + 1) * cell_w, (row + 1) * cell_h])
    assert B.contains(tile[None], boxes_px, tol=1.0).all()
    np.testing.assert_allclose(sample.targets.mos.numpy(), gaic[3].mos, rtol=1e-6)


def test_mosaic_of_a_one_image_split_reuses_that_image(tmp_path) -> None:
    root = write_gaic_dataset(tmp_path, SCENES, {"train": 1})
    data = CropTrainDataset(GaicDataset(root, "train", text_labels=root / "text"), _mosaic_only(2))
    assert data[(0, 0)].grid == 2


def test_epoch_order_is_a_seeded_permutation(gaic) -> None:
    data = CropTrainDataset(gaic, seed=1)
    order = data.epoch_order(0)
    assert sorted(i for _, i in order) == list(range(len(gaic)))
    assert all(epoch == 0 for epoch, _ in order)
    assert order == CropTrainDataset(gaic, seed=1).epoch_order(0)
    assert any(data.epoch_order(e) != order for e in range(1, 6))
    assert data.epoch_order(2, shuffle=False) == [(2, i) for i in range(len(gaic))]


def test_bad_index_and_empty_split_raise(gaic, tmp_path) -> None:
    with pytest.raises(IndexError):
        CropTrainDataset(gaic)[len(gaic)]
    root = write_gaic_dataset(tmp_path, SCENES, {"train": 0})
    with pytest.raises(ValueError, match="no samples"):
        CropTrainDataset(GaicDataset(root, "train"))


def test_collate_keeps_samples_of_different_sizes(gaic) -> None:
    data = CropTrainDataset(gaic)
    batch = collate_samples([data[0], data[1]])
    assert [s.index for s in batch] == [0, 1]
