"""OWL-ViT encoder: image tokens, class embeddings, initial boxes and query embeddings.

Wraps ``transformers.OwlViTForObjectDetection`` + ``OwlViTProcessor`` (SPEC §2). Boxes are
normalised cxcywh relative to the whole, unpadded image (OWL-ViT v1 resizes to a square without
keeping the aspect ratio, so no padding correction is needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ImageEncoding:
    """What the frozen OWL-ViT image side produces for a batch of images.

    Attributes:
        tokens: ``[B, P, D]`` float image tokens ``t_img`` — the ``image_embedder`` feature map
            flattened row-major over the grid (``P = gh * gw``; ``D = 768`` for B/32).
        grid_hw: ``(gh, gw)`` patch grid, e.g. ``(24, 24)`` for B/32 at 768 px.
        boxes_cxcywh: ``[B, P, 4]`` initial boxes ``b_ini`` (``box_predictor``), normalised cxcywh.
        class_embeds: ``[B, P, C]`` class-head image embeddings (``class_predictor`` without
            queries, i.e. not normalised; ``C = 512`` for B/32).
    """

    tokens: torch.Tensor
    grid_hw: tuple[int, int]
    boxes_cxcywh: torch.Tensor
    class_embeds: torch.Tensor

    def __post_init__(self) -> None:
        gh, gw = self.grid_hw
        if self.tokens.ndim != 3 or self.tokens.shape[1] != gh * gw:
            raise ValueError(
                f"tokens must be [B, {gh * gw}, D] for grid {self.grid_hw}, "
                f"got {tuple(self.tokens.shape)}"
            )
        batch, num_tokens = self.tokens.shape[:2]
        if tuple(self.boxes_cxcywh.shape) != (batch, num_tokens, 4):
            raise ValueError(
                f"boxes_cxcywh must be [{batch}, {num_tokens}, 4], got {tuple(self.boxes_cxcywh.shape)}"
            )
        if self.class_embeds.ndim != 3 or tuple(self.class_embeds.shape[:2]) != (batch, num_tokens):
            raise ValueError(
                f"class_embeds must be [{batch}, {num_tokens}, C], got {tuple(self.class_embeds.shape)}"
            )

    @property
    def batch_size(self) -> int:
        """``B``."""
        return int(self.tokens.shape[0])

    def to(self, device: torch.device | str) -> ImageEncoding:
        """The same encoding with every tensor on ``device``."""
        return ImageEncoding(
            tokens=self.tokens.to(device),
            grid_hw=self.grid_hw,
            boxes_cxcywh=self.boxes_cxcywh.to(device),
            class_embeds=self.class_embeds.to(device),
        )


@dataclass
class TextEmbedding:
    """Text query embeddings.

    Attributes:
        embeds: ``[T, C]`` float, L2-normalised text embeddings (``get_text_features``), one row
            per input phrase, in input order.
        truncated: the input phrases that did not fit the text model's positions (16 for OWL-ViT)
            and were cut, in input order.
    """

    embeds: torch.Tensor
    truncated: tuple[str, ...]
