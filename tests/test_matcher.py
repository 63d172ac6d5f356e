import itertools

import pytest
import torch

from promptcrop.boxes import cxcywh_to_xyxy, generalized_box_iou
from promptcrop.train.matcher import HungarianMatcher, match_cost, solve_assignment
from promptcrop.train.targets import make_targets


def _random_boxes(gen: torch.Generator, n: int) -> torch.Tensor:
    centre = torch.rand(n, 2, generator=gen) * 0.6 + 0.2
    size = torch.rand(n, 2, generator=gen) * 0.5 + 0.1
    return torch.cat([centre, size], dim=1)


def _brute_force_cost(cost: torch.Tensor) -> float:
    """Minimum total cost over every one-to-one assignment of the G columns to distinct rows."""
    m, g = cost.shape
    k = min(m, g)
    best = float("inf")
    for cols in itertools.permutations(range(g), k):
        for rows in itertools.permutations(range(m), k):
            best = min(best, sum(float(cost[r, c]) for r, c in zip(rows, cols)))
    return best


def test_match_cost_hand_values():
    pred = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2]])
    scores = torch.tensor([0.8, 0.1])
    gt = torch.tensor([[0.5, 0.5, 0.4, 0.4]])
    cost = match_cost(pred, scores, gt, cost_l1=5.0, cost_giou=2.0, cost_score=2.0)
    assert cost.shape == (2, 1)
    # identical box: L1 0, GIoU 1
    assert float(cost[0, 0]) == pytest.approx(-2.0 - 2.0 * 0.8)
    l1 = 0.2 + 0.2 + 0.2 + 0.2
    giou = float(generalized_box_iou(cxcywh_to_xyxy(pred[1:]), cxcywh_to_xyxy(gt))[0, 0])
    assert float(cost[1, 0]) == pytest.approx(5 * l1 - 2 * giou - 2 * 0.1, abs=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_assignment_equals_brute_force(seed):
    gen = torch.Generator().manual_seed(seed)
    m = int(torch.randint(1, 7, (1,), generator=gen))
    g = int(torch.randint(1, 4, (1,), generator=gen))
    cost = match_cost(_random_boxes(gen, m), torch.rand(m, generator=gen), _random_boxes(gen, g))
    rows, cols = solve_assignment(cost)
    assert len(rows) == len(cols) == min(m, g)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert float(cost[rows, cols].sum()) == pytest.approx(_brute_force_cost(cost), abs=1e-5)


def test_matcher_matches_only_good_crops_and_indexes_full_list():
    gen = torch.Generator().manual_seed(3)
    preds = _random_boxes(gen, 5)
    # crop 1 is a copy of prediction 2 but not good (MOS 3); crops 0 and 2 are good
    gt_boxes = torch.stack([preds[4] + 0.01, preds[2], preds[0] - 0.01])
    targets = make_targets(gt_boxes, torch.tensor([4.5, 3.0, 4.0]))
    matcher = HungarianMatcher()
    [(pred_idx, gt_idx)] = matcher(preds[None], torch.full((1, 5), 0.5), [targets])
    assert sorted(gt_idx.tolist()) == [0, 2]
    assert dict(zip(gt_idx.tolist(), pred_idx.tolist())) == {0: 4, 2: 0}
    assert pred_idx.dtype == torch.long and gt_idx.dtype == torch.long


def test_matcher_batch_with_empty_targets():
    gen = torch.Generator().manual_seed(1)
    boxes = torch.stack([_random_boxes(gen, 4), _random_boxes(gen, 4)])
    targets = [make_targets([], []), make_targets(_random_boxes(gen, 2), [4.0, 5.0])]
    out = HungarianMatcher()(boxes, torch.rand(2, 4, generator=gen), targets)
    assert out[0][0].numel() == 0 and out[0][1].numel() == 0
    assert len(out[1][0]) == 2


def test_matcher_validates_inputs():
    with pytest.raises(ValueError):
        HungarianMatcher(cost_l1=-1.0)
    with pytest.raises(ValueError):
        HungarianMatcher(cost_l1=0.0, cost_giou=0.0, cost_score=0.0)
    matcher = HungarianMatcher()
    targets = [make_targets([[0.5, 0.5, 0.2, 0.2]], [4.0])]
    with pytest.raises(ValueError):
        matcher(torch.rand(1, 3, 4), torch.rand(1, 2), targets)
    with pytest.raises(ValueError):
        matcher(torch.rand(2, 3, 4), torch.rand(2, 3), targets)
    with pytest.raises(ValueError, match="not finite"):
        matcher(torch.full((1, 3, 4), float("nan")), torch.rand(1, 3), targets)
