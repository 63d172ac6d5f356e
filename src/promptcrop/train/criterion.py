"""The ClipCrop training loss (paper §3.3 / Appendix B, after Jia et al. CVPR 2022).

The method is described in docs/METHOD.md, "Training the decoder".

:class:`SetCriterion` returns a dict of NAMED, UNWEIGHTED loss terms, DETR-style:
``loss_l1``, ``loss_giou``, ``loss_score`` for the last decoder layer and, with auxiliary losses,
``loss_l1_i``, ``loss_giou_i``, ``loss_score_i`` for the earlier layers i = 0..L-2.
:meth:`SetCriterion.weighted_total` applies the one weight dict (the suffix is ignored when looking
up a term's weight). Each layer is matched to the good crops on its own (as DETR does for its
auxiliary outputs). Boxes are normalised cxcywh; all loss maths runs in fp32.

The decoder output is duck-typed: any object with ``layer_boxes_cxcywh [L, B, M, 4]`` (unclamped
per-layer boxes, last = final) and ``layer_scores [L, B, M]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from promptcrop.boxes import box_iou, cxcywh_to_xyxy, elementwise_generalized_box_iou
from promptcrop.train.matcher import HungarianMatcher, MatchIndices
from promptcrop.train.targets import CropTargets
from promptcrop.validation import require_non_negative, require_number

LOSS_TERMS: tuple[str, ...] = ("loss_l1", "loss_giou", "loss_score")
DEFAULT_WEIGHTS: dict[str, float] = {"loss_l1": 5.0, "loss_giou": 2.0, "loss_score": 1.0}
_LAYER_SUFFIX = re.compile(r"_\d+$")


class LayeredPredictions(Protocol):
    """What the criterion reads from a decoder output (``DecoderOutput`` satisfies it)."""

    layer_boxes_cxcywh: torch.Tensor  # [L, B, M, 4]
    layer_scores: torch.Tensor  # [L, B, M]


def score_targets(
    pred_boxes_cxcywh: torch.Tensor,
    targets: CropTargets,
    pred_idx: torch.Tensor,
    gt_idx: torch.Tensor,
    redundancy_iou: float = 0.9,
) -> torch.Tensor:
    """Quality-score targets ``[M]`` in [0, 1] for one image's M predictions.

    ``pred_boxes_cxcywh``: ``[M, 4]``; ``pred_idx`` / ``gt_idx``: the matching (``gt_idx`` into the
    full target list). A matched prediction takes its crop's mapped MOS ``(MOS − 1) / 4``. An
    unmatched one whose IoU with some annotated crop (any crop, good or not) is
    >= ``redundancy_iou`` takes the mapped MOS of its highest-IoU crop (local redundancy); every
    other prediction targets 0. No gradient flows through the targets.
    """
    with torch.no_grad():
        pred = pred_boxes_cxcywh.detach().float()  # [M, 4]
        out = torch.zeros(pred.shape[0], dtype=torch.float32, device=pred.device)  # [M]
        if len(targets) == 0:
            return out
        crop_scores = targets.score_targets.float().to(pred.device)  # [N]
        crops = targets.boxes_cxcywh.float().to(pred.device)  # [N, 4]
        iou = box_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(crops))  # [M, N]
        best_iou, best = iou.max(dim=1)  # [M], [M]
        redundant = best_iou >= redundancy_iou
        out[redundant] = crop_scores[best[redundant]]
        out[pred_idx.to(pred.device)] = crop_scores[gt_idx.to(pred.device)]
        return out


def _matched_pairs(
    boxes_cxcywh: torch.Tensor, targets: Sequence[CropTargets], matches: Sequence[MatchIndices]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack matched (prediction, crop) boxes over the batch: ``[K, 4]`` and ``[K, 4]`` cxcywh."""
    device = boxes_cxcywh.device
    pred = [boxes_cxcywh[b, p.to(device)] for b, (p, _) in enumerate(matches)]
    gt = [t.boxes_cxcywh.to(device)[g.to(device)] for t, (_, g) in zip(targets, matches)]
    return torch.cat(pred).float(), torch.cat(gt).float()


def _box_losses(
    pred_cxcywh: torch.Tensor, gt_cxcywh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """L1 (cxcywh) and 1 − GIoU (xyxy) summed over matched pairs ``[K, 4]``, divided by max(K, 1)."""
    num_boxes = max(pred_cxcywh.shape[0], 1)
    l1 = F.l1_loss(pred_cxcywh, gt_cxcywh, reduction="sum") / num_boxes
    giou = elementwise_generalized_box_iou(cxcywh_to_xyxy(pred_cxcywh), cxcywh_to_xyxy(gt_cxcywh))  # [K]
    return l1, (1.0 - giou).sum() / num_boxes


class SetCriterion(nn.Module):
    """Hungarian-matched box losses + Smooth-L1 quality-score loss with local redundancy.

    ``matcher``: matches predictions to the good crops. ``weights``: one weight per base term
    (keys exactly ``loss_l1``, ``loss_giou``, ``loss_score``; default 5 / 2 / 1), used only by
    :meth:`weighted_total`. ``redundancy_iou``: IoU at or above which an unmatched prediction
    inherits a crop's score target (paper: 0.9). ``aux``: also compute the terms of the earlier
    decoder layers.
    """

    def __init__(
        self,
        matcher: HungarianMatcher,
        weights: Mapping[str, float] | None = None,
        redundancy_iou: float = 0.9,
        aux: bool = True,
    ) -> None:
        super().__init__()
        self.matcher = matcher
        self.weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.redundancy_iou = float(redundancy_iou)
        self.aux = bool(aux)
        self._validate()

    def _validate(self) -> None:
        if set(self.weights) != set(LOSS_TERMS):
            raise ValueError(
                f"weights must have exactly the keys {list(LOSS_TERMS)}, got {sorted(self.weights)}"
            )
        for name, value in self.weights.items():
            require_non_negative(f"weight of {name}", value)
        require_number("redundancy_iou", self.redundancy_iou, 0.0, 1.0, low_open=True)

    def forward(
        self, output: LayeredPredictions, targets: Sequence[CropTargets]
    ) -> dict[str, torch.Tensor]:
        """Unweighted loss terms (scalar fp32 tensors) for a batch of B images.

        ``output.layer_boxes_cxcywh``: ``[L, B, M, 4]``; ``output.layer_scores``: ``[L, B, M]``;
        ``targets``: B :class:`CropTargets`. Keys: see the module docstring.
        """
        boxes, scores = output.layer_boxes_cxcywh, output.layer_scores
        if boxes.ndim != 4 or boxes.shape[-1] != 4 or tuple(scores.shape) != tuple(boxes.shape[:3]):
            raise ValueError(
                "expected layer_boxes_cxcywh [L, B, M, 4] and layer_scores [L, B, M], got "
                f"{tuple(boxes.shape)} and {tuple(scores.shape)}"
            )
        if 0 in boxes.shape[:3]:
            raise ValueError(f"need at least one layer, image and query, got {tuple(boxes.shape)}")
        last = boxes.shape[0] - 1
        layers = range(last + 1) if self.aux else [last]
        losses: dict[str, torch.Tensor] = {}
        for layer in layers:
            suffix = "" if layer == last else f"_{layer}"
            terms = self.layer_losses(boxes[layer], scores[layer], targets)
            losses.update({f"{name}{suffix}": value for name, value in terms.items()})
        return losses

    def layer_losses(
        self, boxes_cxcywh: torch.Tensor, scores: torch.Tensor, targets: Sequence[CropTargets]
    ) -> dict[str, torch.Tensor]:
        """The three base terms of one decoder layer: ``[B, M, 4]`` boxes, ``[B, M]`` scores."""
        boxes_cxcywh, scores = boxes_cxcywh.float(), scores.float()
        matches = self.matcher(boxes_cxcywh, scores, targets)
        loss_l1, loss_giou = _box_losses(*_matched_pairs(boxes_cxcywh, targets, matches))
        score_target = torch.stack(
            [
                score_targets(b, t, p, g, self.redundancy_iou)
                for b, t, (p, g) in zip(boxes_cxcywh, targets, matches)
            ]
        )  # [B, M]
        loss_score = F.smooth_l1_loss(scores, score_target, reduction="mean")
        return {"loss_l1": loss_l1, "loss_giou": loss_giou, "loss_score": loss_score}

    def weighted_total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Σ weight(term) · value over every term; ``loss_l1_3`` uses the weight of ``loss_l1``.

        Raises ValueError for a term with no weight, or an empty dict.
        """
        if not losses:
            raise ValueError("no loss terms to weight")
        total = []
        for name, value in losses.items():
            base = _LAYER_SUFFIX.sub("", name)
            if base not in self.weights:
                raise ValueError(
                    f"no weight for loss term {name!r} (weights: {sorted(self.weights)})"
                )
            total.append(self.weights[base] * value.float())
        return torch.stack(total).sum()
