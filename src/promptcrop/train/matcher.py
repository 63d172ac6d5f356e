"""Hungarian matching between predicted crops and the good ground-truth crops (docs/METHOD.md,
"Training the decoder").

Building the cost matrix (:func:`match_cost`) is kept apart from solving the assignment
(:func:`solve_assignment`, scipy on CPU), as in scenic; :class:`HungarianMatcher` runs both per
image of a batch. Boxes are normalised cxcywh throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment

from promptcrop.boxes import cxcywh_to_xyxy, generalized_box_iou
from promptcrop.train.targets import CropTargets
from promptcrop.validation import require_non_negative

MatchIndices = tuple[torch.Tensor, torch.Tensor]
"""``(pred_idx [K] long, gt_idx [K] long)``: prediction ``pred_idx[i]`` is matched to crop
``gt_idx[i]``; K = min(M, number of good crops)."""


def match_cost(
    pred_boxes_cxcywh: torch.Tensor,
    pred_scores: torch.Tensor,
    gt_boxes_cxcywh: torch.Tensor,
    cost_l1: float = 5.0,
    cost_giou: float = 2.0,
    cost_score: float = 2.0,
) -> torch.Tensor:
    """Matching cost ``[M, G]`` of M predictions against G ground-truth crops.

    ``pred_boxes_cxcywh``: ``[M, 4]``; ``pred_scores``: ``[M]``; ``gt_boxes_cxcywh``: ``[G, 4]``.
    cost = cost_l1 · L1(cxcywh) + cost_giou · (−GIoU(xyxy)) + cost_score · (−score) — the terms of
    Jia et al.'s matcher, with the predicted quality score in place of the class probability.
    Computed in fp32.
    """
    pred = pred_boxes_cxcywh.float()  # [M, 4]
    gt = gt_boxes_cxcywh.float().to(pred.device)  # [G, 4]
    l1 = torch.cdist(pred, gt, p=1)  # [M, G]
    giou = generalized_box_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(gt))  # [M, G]
    score = pred_scores.float().reshape(-1, 1)  # [M, 1]
    return cost_l1 * l1 - cost_giou * giou - cost_score * score


def solve_assignment(cost: torch.Tensor) -> MatchIndices:
    """Minimum-cost assignment of a ``[M, G]`` cost matrix (scipy ``linear_sum_assignment``).

    Returns CPU long tensors ``(row_idx [K], col_idx [K])``, K = min(M, G), rows ascending. An empty
    matrix gives empty indices. Raises ValueError if the cost holds NaN or inf (diverged
    predictions).
    """
    cost = cost.detach().cpu()
    if cost.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty.clone()
    if not bool(torch.isfinite(cost).all()):
        raise ValueError("matching cost is not finite: the predictions hold NaN or inf")
    rows, cols = linear_sum_assignment(cost.numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


@dataclass(frozen=True)
class HungarianMatcher:
    """Matches each image's predictions one-to-one to its *good* crops (``CropTargets.good``).

    ``cost_l1``, ``cost_giou``, ``cost_score``: the weights of :func:`match_cost` (finite, >= 0,
    not all 0).
    """

    cost_l1: float = 5.0
    cost_giou: float = 2.0
    cost_score: float = 2.0

    def __post_init__(self) -> None:
        costs = {
            "cost_l1": self.cost_l1, "cost_giou": self.cost_giou, "cost_score": self.cost_score
        }
        for name, value in costs.items():
            require_non_negative(name, value)
        if all(value == 0 for value in costs.values()):
            raise ValueError("at least one matching cost weight must be > 0")

    def cost(
        self,
        pred_boxes_cxcywh: torch.Tensor,
        pred_scores: torch.Tensor,
        gt_boxes_cxcywh: torch.Tensor,
    ) -> torch.Tensor:
        """:func:`match_cost` with these weights: ``[M, 4]``, ``[M]``, ``[G, 4]`` → ``[M, G]``."""
        return match_cost(
            pred_boxes_cxcywh,
            pred_scores,
            gt_boxes_cxcywh,
            cost_l1=self.cost_l1,
            cost_giou=self.cost_giou,
            cost_score=self.cost_score,
        )

    def match_one(
        self, pred_boxes_cxcywh: torch.Tensor, pred_scores: torch.Tensor, targets: CropTargets
    ) -> MatchIndices:
        """Match one image: ``[M, 4]`` boxes, ``[M]`` scores → ``(pred_idx, gt_idx)`` on CPU.

        ``gt_idx`` indexes the FULL target list (``targets.boxes_cxcywh``, ``targets.mos``), and
        only good crops are ever matched. No good crop → empty indices.
        """
        with torch.no_grad():
            good_index = targets.good_index.cpu()  # [G]
            gt_good = targets.boxes_cxcywh[good_index.to(targets.boxes_cxcywh.device)]  # [G, 4]
            pred_idx, good_col = solve_assignment(
                self.cost(pred_boxes_cxcywh, pred_scores, gt_good)
            )
            return pred_idx, good_index[good_col]

    def __call__(
        self,
        decoder_boxes_cxcywh: torch.Tensor,
        scores: torch.Tensor,
        targets: Sequence[CropTargets],
    ) -> list[MatchIndices]:
        """Match a batch: ``[B, M, 4]`` boxes and ``[B, M]`` scores against B :class:`CropTargets`.

        Returns one ``(pred_idx [K_b], gt_idx [K_b])`` pair of CPU long tensors per image (see
        :meth:`match_one`; ``gt_idx`` indexes the full target list).
        """
        if decoder_boxes_cxcywh.ndim != 3 or decoder_boxes_cxcywh.shape[-1] != 4:
            raise ValueError(
                f"decoder boxes must be [B, M, 4], got {tuple(decoder_boxes_cxcywh.shape)}"
            )
        if tuple(scores.shape) != tuple(decoder_boxes_cxcywh.shape[:2]):
            raise ValueError(
                f"scores must be [B, M] = {tuple(decoder_boxes_cxcywh.shape[:2])}, "
                f"got {tuple(scores.shape)}"
            )
        if len(targets) != decoder_boxes_cxcywh.shape[0]:
            raise ValueError(
                f"need one CropTargets per image: batch of {decoder_boxes_cxcywh.shape[0]}, "
                f"got {len(targets)}"
            )
        return [
            self.match_one(boxes, image_scores, image_targets)
            for boxes, image_scores, image_targets in zip(decoder_boxes_cxcywh, scores, targets)
        ]
