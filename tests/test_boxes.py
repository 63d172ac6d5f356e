import math

import numpy as np
import pytest
import torch

from promptcrop import boxes as B


def test_cxcywh_xyxy_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    b = rng.random((5, 3, 4))
    np.testing.assert_allclose(B.xyxy_to_cxcywh(B.cxcywh_to_xyxy(b)), b, atol=1e-12)
    t = torch.tensor(b, dtype=torch.float32)
    out = B.cxcywh_to_xyxy(t)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3, 4)
    torch.testing.assert_close(B.xyxy_to_cxcywh(out), t)


def test_model_to_image_on_non_square_image():
    # centre box of half the size in a 300 wide x 100 high image
    px = B.model_to_image_xyxy_px(np.array([0.5, 0.5, 0.5, 0.5]), 300, 100)
    np.testing.assert_allclose(px, [75, 25, 225, 75])
    # x scales with width, y with height, never the other way round
    px = B.model_to_image_xyxy_px(np.array([0.1, 0.9, 0.2, 0.2]), 300, 100)
    np.testing.assert_allclose(px, [0, 80, 60, 100], atol=1e-9)
    back = B.image_xyxy_px_to_model(px, 300, 100)
    np.testing.assert_allclose(back, [0.1, 0.9, 0.2, 0.2], atol=1e-12)
    with pytest.raises(ValueError):
        B.model_to_image_xyxy_px(np.zeros(4), 0, 10)


def test_iou_and_giou_hand_values():
    a = np.array([[0, 0, 2, 2]], float)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [4, 4, 5, 5]], float)
    iou = B.box_iou(a, b)
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])
    giou = B.generalized_box_iou(a, b)
    # enclosing of a and [4,4,5,5] is 25, union 5 -> 0 - 20/25
    np.testing.assert_allclose(giou, [[1 / 7 - (9 - 7) / 9, 1.0, -20 / 25]])
    np.testing.assert_allclose(B.elementwise_iou(a[0], b[0]), 1 / 7)


def test_elementwise_giou_is_the_diagonal_of_the_pairwise_one():
    rng = np.random.default_rng(0)
    corners = rng.random((2, 12, 2, 2))
    a, b = (np.concatenate([c.min(axis=1), c.max(axis=1)], axis=-1) for c in corners)  # [12, 4] xyxy
    a[0] = b[0]  # identical
    a[1] = [0.5, 0.5, 0.5, 0.5]  # zero area
    np.testing.assert_allclose(B.elementwise_generalized_box_iou(a, b), np.diag(B.generalized_box_iou(a, b)))
    t = torch.tensor(a, requires_grad=True)
    B.elementwise_generalized_box_iou(t, torch.tensor(b)).sum().backward()
    assert torch.isfinite(t.grad).all()


def test_degenerate_boxes_never_nan():
    z = np.array([[1, 1, 1, 1], [2, 2, 1, 1]], float)  # zero-area and inverted
    assert np.isfinite(B.box_iou(z, z)).all()
    assert np.isfinite(B.generalized_box_iou(z, z)).all()
    t = torch.tensor(z, requires_grad=True)
    B.generalized_box_iou(t, t).sum().backward()
    assert torch.isfinite(t.grad).all()


def test_union_clamp_contains():
    u = B.union_box(np.array([[1, 2, 3, 4], [0, 3, 2, 9]], float))
    np.testing.assert_allclose(u, [0, 2, 3, 9])
    ut = B.union_box(torch.tensor([[[0.1, 0.2, 0.3, 0.4]]]))
    assert ut.shape == (1, 4)
    with pytest.raises(ValueError):
        B.union_box(np.zeros((0, 4)))
    c = B.clamp_xyxy(np.array([-5, 3, 120, 90], float), 100, 80)
    np.testing.assert_allclose(c, [0, 3, 100, 80])
    assert B.contains(np.array([0, 0, 10, 10]), np.array([1, 1, 9, 9]))
    assert not B.contains(np.array([0, 0, 10, 10]), np.array([1, 1, 11, 9]))


@pytest.mark.parametrize("text,value", [("16:9", 16 / 9), ("4x5", 0.8), ("1.5", 1.5), (2, 2.0)])
def test_parse_aspect_ratio(text, value):
    assert math.isclose(B.parse_aspect_ratio(text), value)


@pytest.mark.parametrize("bad", ["0:1", "-1:2", "abc", "", "1:0", "nan", float("inf"), 0])
def test_parse_aspect_ratio_rejects(bad):
    with pytest.raises(ValueError):
        B.parse_aspect_ratio(bad)


def test_fit_aspect_ratio_contains_region_and_stays_inside():
    region = np.array([10, 10, 30, 60], float)
    box, fits = B.fit_aspect_ratio(region, 1.0, 200, 100)
    assert fits
    assert math.isclose((box[2] - box[0]) / (box[3] - box[1]), 1.0)
    assert B.contains(box, region)
    assert box[0] >= 0 and box[1] >= 0 and box[2] <= 200 and box[3] <= 100
    # a region wider than any 1:2 box in a 200x100 image: largest 1:2 box, flagged
    box, fits = B.fit_aspect_ratio(np.array([0, 0, 200, 100], float), 0.5, 200, 100)
    assert not fits
    np.testing.assert_allclose(box[2:] - box[:2], [50, 100])
    with pytest.raises(ValueError):
        B.fit_aspect_ratio(region, 0.0, 200, 100)


@pytest.mark.parametrize("aspect", [1.0, 16 / 9, 0.8, 3.0, 1 / 3])
def test_snap_to_pixels_ratio_within_one_pixel(aspect):
    rng = np.random.default_rng(1)
    for _ in range(50):
        W, H = rng.integers(20, 2000, size=2)
        region = np.sort(rng.random(2) * W), np.sort(rng.random(2) * H)
        r = np.array([region[0][0], region[1][0], region[0][1], region[1][1]])
        box, _ = B.fit_aspect_ratio(r, aspect, W, H)
        px = B.snap_to_pixels(box, W, H, aspect)
        w, h = px[2] - px[0], px[3] - px[1]
        assert w >= 1 and h >= 1
        assert px[0] >= 0 and px[1] >= 0 and px[2] <= W and px[3] <= H
        assert abs(w - h * aspect) <= max(1.0, aspect) + 1e-9
        if min(w, h) > 1 and px[2] - px[0] < W and px[3] - px[1] < H:  # the derived side was not limited
            short_error = abs(h - w / aspect) if aspect >= 1 else abs(w - h * aspect)
            assert short_error <= 0.5 + 1e-9


def test_snap_to_pixels_refuses_what_is_not_a_box():
    for box in ([0, 0, np.nan, 10], [0, 0, np.inf, 10], [1, 2, 3]):
        with pytest.raises(ValueError):
            B.snap_to_pixels(np.array(box, dtype=float), 100, 100, 1.0)
    for aspect in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            B.snap_to_pixels(np.array([0.0, 0.0, 10.0, 10.0]), 100, 100, aspect)


def test_snap_to_pixels_of_many_boxes_is_each_box_snapped():
    rng = np.random.default_rng(2)
    boxes = rng.uniform(0, 300, (64, 4))
    boxes[:, 2:] += boxes[:, :2]
    many = B.snap_to_pixels(boxes, 500, 400, 9 / 16)
    assert many.shape == (64, 4) and many.dtype == np.int64
    for box, row in zip(boxes, many):
        np.testing.assert_array_equal(B.snap_to_pixels(box, 500, 400, 9 / 16), row)


@pytest.mark.parametrize("aspect", [9 / 16, 4 / 5, 16 / 9, 3.0])
def test_snap_to_pixels_keeps_a_crop_that_spans_the_image(aspect):
    for W, H in ((640, 360), (360, 640), (451, 300), (1001, 999)):
        box, _ = B.fit_aspect_ratio(np.array([0.0, 0.0, W, H]), aspect, W, H)
        px = B.snap_to_pixels(box, W, H, aspect)
        assert px[2] - px[0] == W or px[3] - px[1] == H


def test_select_diverse_drops_near_duplicates_and_keeps_order():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [0, 0, 9, 10]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    idx = B.select_diverse(boxes, scores, max_iou=0.8, k=3)
    assert idx.tolist() == [1, 2]
    assert B.select_diverse(boxes, scores, max_iou=0.8, k=0).tolist() == []
    assert B.select_diverse(boxes, scores, max_iou=1.01, k=10).tolist() == [1, 0, 3, 2]


def test_box_coverage_is_share_of_inner_area_inside_outer():
    outer = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)
    inner = np.array([[0, 0, 10, 10], [8, 2, 12, 4], [1, 1, 1, 5]], dtype=float)
    np.testing.assert_allclose(B.box_coverage(outer, inner), [[1, 0.5, 0], [0.5, 1, 0]])
    out = B.box_coverage(torch.tensor(outer), torch.tensor(inner))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3)


def test_scale_shift_and_hflip_xyxy():
    b = np.array([[10, 20, 30, 60]], dtype=float)
    np.testing.assert_allclose(B.scale_shift_xyxy(b, 0.5, 2.0, 100, 1), [[105, 41, 115, 121]])
    np.testing.assert_allclose(B.hflip_xyxy(b, 100), [[70, 20, 90, 60]])
    np.testing.assert_allclose(B.hflip_xyxy(B.hflip_xyxy(b, 100), 100), b)
    t = B.hflip_xyxy(torch.tensor([[0.1, 0.2, 0.4, 0.5]]), 1.0)
    torch.testing.assert_close(t, torch.tensor([[0.6, 0.2, 0.9, 0.5]]))
