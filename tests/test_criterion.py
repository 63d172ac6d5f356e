from types import SimpleNamespace

import pytest
import torch

from promptcrop.train.criterion import SetCriterion, score_targets
from promptcrop.train.matcher import HungarianMatcher
from promptcrop.train.targets import make_targets

# One image: crop 0 is good (MOS 5), crop 1 is not (MOS 3).
TARGETS = make_targets([[0.5, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2]], [5.0, 3.0])
# Final-layer predictions: 0 near crop 0 (dx = 0.05), 1 equal to crop 1, 2 far from everything.
FINAL_BOXES = torch.tensor([[0.55, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2], [0.85, 0.85, 0.1, 0.1]])
FINAL_SCORES = torch.tensor([0.9, 0.2, 0.3])


def _output(layer_boxes: torch.Tensor, layer_scores: torch.Tensor) -> SimpleNamespace:
    """A stand-in for DecoderOutput: only the two fields the criterion reads."""
    return SimpleNamespace(layer_boxes_cxcywh=layer_boxes, layer_scores=layer_scores)


def _two_layer_output() -> SimpleNamespace:
    aux_boxes = FINAL_BOXES + 0.02
    boxes = torch.stack([aux_boxes, FINAL_BOXES])[:, None]  # [L=2, B=1, M=3, 4]
    scores = torch.stack([FINAL_SCORES, FINAL_SCORES])[:, None]  # [2, 1, 3]
    return _output(boxes, scores)


def test_each_term_against_hand_values():
    losses = SetCriterion(HungarianMatcher())(_two_layer_output(), [TARGETS])
    # L1 on cxcywh of the single matched pair, divided by 1 matched box
    assert float(losses["loss_l1"]) == pytest.approx(0.05, abs=1e-6)
    # pred xyxy [.35,.3,.75,.7] vs gt [.3,.3,.7,.7]: IoU = .14/.18, enclosing = union -> GIoU = 7/9
    assert float(losses["loss_giou"]) == pytest.approx(1 - 7 / 9, abs=1e-6)
    # score targets [1.0 matched, 0.5 redundant with crop 1, 0.0]; smooth L1 (beta 1) = 0.5 d^2
    expected = 0.5 * (0.1**2 + 0.3**2 + 0.3**2) / 3
    assert float(losses["loss_score"]) == pytest.approx(expected, abs=1e-6)
    assert all(v.dtype == torch.float32 and v.ndim == 0 for v in losses.values())


def test_aux_suffixes_and_aux_off():
    losses = SetCriterion(HungarianMatcher())(_two_layer_output(), [TARGETS])
    assert set(losses) == {
        "loss_l1", "loss_giou", "loss_score", "loss_l1_0", "loss_giou_0", "loss_score_0"
    }
    # layer 0 boxes are shifted by 0.02 on every coordinate: matched L1 = |0.07| + 3 * 0.02
    assert float(losses["loss_l1_0"]) == pytest.approx(0.07 + 3 * 0.02, abs=1e-6)
    no_aux = SetCriterion(HungarianMatcher(), aux=False)(_two_layer_output(), [TARGETS])
    assert set(no_aux) == {"loss_l1", "loss_giou", "loss_score"}


def test_box_losses_normalised_by_matched_boxes_across_batch():
    # image 0: one good crop matched with L1 0.05; image 1: two good crops matched exactly
    t1 = make_targets([[0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]], [4.0, 4.5])
    exact = torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2], [0.5, 0.5, 0.1, 0.1]])
    boxes = torch.stack([FINAL_BOXES, exact])[None]  # [1, 2, 3, 4]
    scores = torch.full((1, 2, 3), 0.5)
    losses = SetCriterion(HungarianMatcher())(_output(boxes, scores), [TARGETS, t1])
    assert float(losses["loss_l1"]) == pytest.approx(0.05 / 3, abs=1e-6)
    assert float(losses["loss_giou"]) == pytest.approx((1 - 7 / 9) / 3, abs=1e-6)


def test_local_redundancy_score_targets():
    targets = make_targets(
        [[0.5, 0.5, 0.4, 0.4], [0.5, 0.5, 0.38, 0.4], [0.2, 0.2, 0.2, 0.2]], [4.0, 2.0, 3.0]
    )
    preds = torch.tensor(
        [
            [0.5, 0.5, 0.4, 0.4],  # matched to crop 0 -> (4 - 1) / 4
            [0.5, 0.5, 0.385, 0.4],  # IoU .9625 with crop 0, .987 with crop 1 -> crop 1 (MOS 2)
            [0.2, 0.2, 0.2, 0.19],  # IoU .95 with crop 2 (not good, still counts) -> (3 - 1) / 4
            [0.2, 0.2, 0.2, 0.17],  # IoU .85 < .9 -> 0
            [0.8, 0.8, 0.1, 0.1],  # overlaps nothing -> 0
        ]
    )
    out = score_targets(preds, targets, torch.tensor([0]), torch.tensor([0]), redundancy_iou=0.9)
    torch.testing.assert_close(out, torch.tensor([0.75, 0.25, 0.5, 0.0, 0.0]))
    # the matched target wins over redundancy: pred 1 matched to crop 0
    out = score_targets(preds, targets, torch.tensor([1]), torch.tensor([0]))
    assert float(out[1]) == pytest.approx(0.75)
    # empty targets: every target is 0
    empty = make_targets([], [])
    no_match = torch.zeros(0, dtype=torch.long)
    out = score_targets(preds, empty, no_match, no_match)
    torch.testing.assert_close(out, torch.zeros(5))


def test_gradients_flow_to_boxes_and_scores():
    gen = torch.Generator().manual_seed(0)
    boxes = (torch.rand(2, 2, 4, 4, generator=gen) * 0.4 + 0.3).requires_grad_()
    scores = torch.rand(2, 2, 4, generator=gen).requires_grad_()
    targets = [TARGETS, make_targets([[0.4, 0.6, 0.3, 0.5]], [3.0])]
    criterion = SetCriterion(HungarianMatcher())
    total = criterion.weighted_total(criterion(_output(boxes, scores), targets))
    total.backward()
    for grad in (boxes.grad, scores.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    # both layers get gradient (aux losses on)
    assert boxes.grad[0].abs().sum() > 0 and boxes.grad[1].abs().sum() > 0


def test_empty_targets_give_finite_losses():
    boxes = torch.rand(2, 2, 3, 4).requires_grad_()
    scores = torch.rand(2, 2, 3).requires_grad_()
    criterion = SetCriterion(HungarianMatcher())
    losses = criterion(_output(boxes, scores), [make_targets([], []), make_targets([], [])])
    assert losses["loss_l1"].item() == 0.0 and losses["loss_giou"].item() == 0.0
    torch.testing.assert_close(losses["loss_score"], 0.5 * (scores[1].detach() ** 2).mean())
    total = criterion.weighted_total(losses)
    assert torch.isfinite(total)
    total.backward()
    assert torch.isfinite(scores.grad).all()


def test_weighted_total_applies_one_weight_dict_suffix_aware():
    weights = {"loss_l1": 5, "loss_giou": 2, "loss_score": 1}
    criterion = SetCriterion(HungarianMatcher(), weights=weights)
    losses = {
        "loss_l1": torch.tensor(1.0),
        "loss_giou": torch.tensor(2.0),
        "loss_score": torch.tensor(3.0),
        "loss_l1_0": torch.tensor(10.0),
        "loss_score_4": torch.tensor(0.5),
    }
    assert float(criterion.weighted_total(losses)) == pytest.approx(5 + 4 + 3 + 50 + 0.5)
    with pytest.raises(ValueError, match="no weight"):
        criterion.weighted_total({"loss_ce": torch.tensor(1.0)})
    with pytest.raises(ValueError):
        criterion.weighted_total({})


def test_criterion_validates_config_and_inputs():
    with pytest.raises(ValueError):
        SetCriterion(HungarianMatcher(), weights={"loss_l1": 1.0})
    with pytest.raises(ValueError):
        SetCriterion(HungarianMatcher(), weights={"loss_l1": -1, "loss_giou": 2, "loss_score": 1})
    with pytest.raises(ValueError):
        SetCriterion(HungarianMatcher(), redundancy_iou=0.0)
    criterion = SetCriterion(HungarianMatcher())
    with pytest.raises(ValueError):
        criterion(_output(torch.rand(1, 1, 3, 4), torch.rand(1, 1, 2)), [TARGETS])
    with pytest.raises(ValueError):
        criterion(_output(torch.rand(1, 2, 3, 4), torch.rand(1, 2, 3)), [TARGETS])
