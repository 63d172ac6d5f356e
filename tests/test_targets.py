import numpy as np
import pytest
import torch

from promptcrop.train.targets import CropTargets, good_crops, make_targets

BOXES = [[0.5, 0.5, 1.0, 1.0], [0.4, 0.5, 0.6, 0.8], [0.6, 0.5, 0.7, 0.9]]


def test_good_is_mos_at_least_4():
    t = make_targets(BOXES, [4.0, 3.9, 4.6])
    assert t.good.tolist() == [True, False, True]
    assert t.good_index.tolist() == [0, 2]
    assert len(t) == 3
    assert t.boxes_cxcywh.dtype == torch.float32 and t.mos.dtype == torch.float32


def test_good_falls_back_to_crops_tied_at_max():
    t = make_targets(np.array(BOXES), np.array([3.5, 2.0, 3.5]))
    assert t.good.tolist() == [True, False, True]
    assert good_crops(torch.tensor([1.0, 1.0])).tolist() == [True, True]


def test_score_targets_map_mos_linearly_without_truncation():
    t = make_targets(BOXES, [1.0, 3.0, 5.0])
    torch.testing.assert_close(t.score_targets, torch.tensor([0.0, 0.5, 1.0]))


def test_empty_targets_are_allowed():
    for boxes in ([], np.zeros((0, 4)), torch.zeros(0, 4)):
        t = make_targets(boxes, [])
        assert len(t) == 0
        assert t.boxes_cxcywh.shape == (0, 4)
        assert t.good.shape == (0,) and t.good.dtype == torch.bool
        assert t.score_targets.shape == (0,)
        assert t.good_index.shape == (0,)


def test_invalid_targets_raise():
    with pytest.raises(ValueError, match="MOS"):
        make_targets(BOXES, [4.0, -2.0, 3.0])  # GAIC invalid crop not dropped
    with pytest.raises(ValueError):
        make_targets(BOXES, [4.0, float("nan"), 3.0])
    with pytest.raises(ValueError):
        make_targets(BOXES, [4.0, 3.0])
    with pytest.raises(ValueError):
        make_targets([[0.5, 0.5, 1.0]], [4.0])
    with pytest.raises(ValueError):
        CropTargets(torch.zeros(2, 4), torch.zeros(2), torch.zeros(2))  # good not bool


def test_to_device_returns_a_copy_with_same_values():
    t = make_targets(BOXES, [4.0, 3.0, 5.0])
    moved = t.to("cpu")
    assert moved is not t
    torch.testing.assert_close(moved.boxes_cxcywh, t.boxes_cxcywh)
    assert moved.good.tolist() == t.good.tolist()
