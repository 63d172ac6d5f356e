"""Token selection and union anchor (promptcrop.model.grounding) on constructed tensors."""

from __future__ import annotations

import pytest
import torch

from promptcrop.errors import InternalError
from promptcrop.model.encoder import ImageEncoding
from promptcrop.model.grounding import Grounding, filter_for_target, ground, unconditioned

WHOLE = torch.tensor([0.5, 0.5, 1.0, 1.0])

# A 2 x 2 grid; token k has a 0.2 x 0.2 box centred in quadrant k (row-major).
QUADRANT_BOXES = torch.tensor(
    [[0.25, 0.25, 0.2, 0.2], [0.75, 0.25, 0.2, 0.2], [0.25, 0.75, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2]]
)


def _encoding(batch: int = 2, boxes: torch.Tensor = QUADRANT_BOXES, dim: int = 3) -> ImageEncoding:
    tokens = torch.arange(batch * 4 * dim, dtype=torch.float32).reshape(batch, 4, dim)
    return ImageEncoding(
        tokens=tokens,
        grid_hw=(2, 2),
        boxes_cxcywh=boxes.expand(batch, 4, 4).clone(),
        class_embeds=torch.zeros(batch, 4, 5),
    )


def _logits_selecting(selection: list[list[int]], num_tokens: int = 4) -> torch.Tensor:
    """``[B, P, W]`` logits whose per-query maximum is at the given token indices."""
    batch, width = len(selection), len(selection[0])
    logits = torch.zeros(batch, num_tokens, width)
    for b, row in enumerate(selection):
        for w, token in enumerate(row):
            logits[b, token, w] = 1.0 + w
    return logits


def test_picks_the_max_logit_token_per_query() -> None:
    torch.manual_seed(0)
    encoding = _encoding(batch=2)
    logits = torch.randn(2, 4, 3)
    grounding = ground(encoding, logits)
    for b in range(2):
        for w in range(3):
            best = max(range(4), key=lambda p: logits[b, p, w].item())
            assert grounding.token_index[b, w] == best
            assert torch.equal(grounding.tokens[b, w], encoding.tokens[b, best])
            assert torch.equal(grounding.boxes_cxcywh[b, w], encoding.boxes_cxcywh[b, best])
            assert grounding.logits[b, w] == logits[b, best, w]
    assert grounding.mask.all() and grounding.token_index.dtype == torch.long


def test_union_of_selected_boxes_is_taken_in_xyxy() -> None:
    # Quadrants 0 and 3: xyxy (0.15, 0.15, 0.35, 0.35) and (0.65, 0.65, 0.85, 0.85).
    grounding = ground(_encoding(batch=1), _logits_selecting([[0, 3]]))
    assert torch.allclose(grounding.union_cxcywh[0], torch.tensor([0.5, 0.5, 0.7, 0.7]))
    # Quadrants 0 and 1: xyxy union (0.15, 0.15, 0.85, 0.35).
    grounding = ground(_encoding(batch=1), _logits_selecting([[1, 0]]))
    assert torch.allclose(grounding.union_cxcywh[0], torch.tensor([0.5, 0.25, 0.7, 0.2]))


def test_union_is_clamped_to_the_image() -> None:
    boxes = QUADRANT_BOXES.clone()
    boxes[0] = torch.tensor([0.05, 0.5, 0.3, 0.4])  # xyxy (-0.1, 0.3, 0.2, 0.7)
    grounding = ground(_encoding(batch=1, boxes=boxes), _logits_selecting([[0]]))
    assert torch.allclose(grounding.union_cxcywh[0], torch.tensor([0.1, 0.5, 0.2, 0.4]))


def test_padding_queries_are_ignored_and_no_valid_query_means_whole_image() -> None:
    logits = _logits_selecting([[0, 3], [1, 2]])
    grounding = ground(_encoding(batch=2), logits, torch.tensor([[1, 0], [0, 0]]))
    assert grounding.mask.dtype == torch.bool
    assert grounding.mask.tolist() == [[True, False], [False, False]]
    assert torch.allclose(grounding.union_cxcywh[0], QUADRANT_BOXES[0])
    assert torch.equal(grounding.union_cxcywh[1], WHOLE)


def test_no_queries_and_unconditioned_give_the_whole_image() -> None:
    encoding = _encoding(batch=2)
    for grounding in (ground(encoding, torch.zeros(2, 4, 0)), unconditioned(encoding)):
        assert tuple(grounding.token_index.shape) == (2, 0)
        assert tuple(grounding.tokens.shape) == (2, 0, 3)
        assert tuple(grounding.boxes_cxcywh.shape) == (2, 0, 4)
        assert tuple(grounding.mask.shape) == (2, 0)
        assert torch.equal(grounding.union_cxcywh, WHOLE.expand(2, 4))


def test_ground_rejects_mismatched_shapes() -> None:
    encoding = _encoding(batch=2)
    with pytest.raises(InternalError, match="logits"):
        ground(encoding, torch.zeros(2, 5, 1))
    with pytest.raises(InternalError, match="query_mask"):
        ground(encoding, torch.zeros(2, 4, 2), torch.ones(2, 3, dtype=torch.bool))


def test_grounding_validates_field_shapes() -> None:
    good = unconditioned(_encoding(batch=1))
    with pytest.raises(InternalError, match="union_cxcywh"):
        Grounding(good.token_index, good.tokens, good.boxes_cxcywh, good.logits, good.mask,
                  torch.zeros(2, 4))
    with pytest.raises(InternalError, match="bool"):
        Grounding(good.token_index, good.tokens, good.boxes_cxcywh, good.logits,
                  good.mask.long(), good.union_cxcywh)


# ----------------------------------------------------------------------------- mosaic filter

# Boxes (cxcywh) relative to a target crop covering the top-left quarter, xyxy (0, 0, 0.5, 0.5).
TARGET = torch.tensor([0.25, 0.25, 0.5, 0.5])
NEAR_BIG = [0.25, 0.25, 0.4, 0.4]  # centre inside, covers 0.16 / 0.25 = 64 %
NEAR_SMALL = [0.2, 0.2, 0.1, 0.1]  # centre inside, covers 4 %
NEAR_MEDIUM = [0.3, 0.3, 0.3, 0.3]  # centre inside, covers 0.09 / 0.25 = 36 %
FAR_BIG = [0.55, 0.55, 1.0, 1.0]  # covers 81 %, but its centre is outside the target
FAR_SMALL = [0.75, 0.75, 0.1, 0.1]  # other tile


def _selected(rows: list[list[list[float]]], mask: list[list[bool]] | None = None) -> Grounding:
    """A grounding whose selected boxes are ``rows`` (``[B][W][4]`` cxcywh)."""
    boxes = torch.tensor(rows)  # [B, W, 4]
    batch, width = boxes.shape[:2]
    encoding = ImageEncoding(
        tokens=torch.zeros(batch, width, 2), grid_hw=(1, width), boxes_cxcywh=boxes,
        class_embeds=torch.zeros(batch, width, 1),
    )
    logits = torch.eye(width).expand(batch, width, width)  # query w selects token w
    query_mask = None if mask is None else torch.tensor(mask)
    return ground(encoding, logits, query_mask)


def test_filter_drops_far_and_small_selections_and_recomputes_the_union() -> None:
    grounding = _selected([[NEAR_BIG, NEAR_SMALL, FAR_BIG, FAR_SMALL]])
    filtered = filter_for_target(grounding, TARGET[None])
    assert filtered.mask.tolist() == [[True, False, False, False]]
    assert torch.allclose(filtered.union_cxcywh[0], torch.tensor(NEAR_BIG))
    assert torch.equal(filtered.token_index, grounding.token_index)
    assert torch.equal(filtered.boxes_cxcywh, grounding.boxes_cxcywh)


def test_filter_keeps_the_near_selection_covering_most_when_all_would_be_dropped() -> None:
    filtered = filter_for_target(_selected([[NEAR_SMALL, FAR_SMALL, NEAR_MEDIUM]]), TARGET[None])
    assert filtered.mask.tolist() == [[False, False, True]]
    assert torch.allclose(filtered.union_cxcywh[0], torch.tensor(NEAR_MEDIUM))


def test_filter_keeps_nothing_when_every_selection_is_far() -> None:
    filtered = filter_for_target(_selected([[FAR_BIG, FAR_SMALL]]), TARGET[None])
    assert not filtered.mask.any()
    assert torch.equal(filtered.union_cxcywh[0], WHOLE)


def test_filter_never_revives_padding_and_honours_target_mask() -> None:
    # Row 1's second query is padding: it would pass the filter but must stay invalid.
    grounding = _selected(
        [[NEAR_BIG, NEAR_SMALL], [NEAR_SMALL, NEAR_BIG]], mask=[[True, True], [True, False]]
    )
    targets = TARGET.expand(2, 4)
    filtered = filter_for_target(grounding, targets)
    assert filtered.mask.tolist() == [[True, False], [True, False]]  # row 1: the fallback
    untouched = filter_for_target(grounding, targets, target_mask=torch.tensor([False, True]))
    assert untouched.mask.tolist() == [[True, True], [True, False]]
    assert torch.equal(untouched.union_cxcywh[0], grounding.union_cxcywh[0])


def test_filter_min_cover_and_shape_checks() -> None:
    grounding = _selected([[NEAR_BIG, NEAR_MEDIUM]])
    assert filter_for_target(grounding, TARGET[None], min_cover=0.3).mask.tolist() == [[True, True]]
    with pytest.raises(ValueError, match="min_cover"):
        filter_for_target(grounding, TARGET[None], min_cover=0.0)
    with pytest.raises(InternalError, match="target_cxcywh"):
        filter_for_target(grounding, TARGET)


def test_filter_on_an_unconditioned_grounding_is_a_no_op() -> None:
    grounding = unconditioned(_encoding(batch=2))
    filtered = filter_for_target(grounding, TARGET.expand(2, 4))
    assert tuple(filtered.mask.shape) == (2, 0)
    assert torch.equal(filtered.union_cxcywh, WHOLE.expand(2, 4))
