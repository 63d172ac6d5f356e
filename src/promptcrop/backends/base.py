"""The interfaces an inference backend implements (structural: any object with these members).

Tensors are torch tensors on the backend's device; boxes are normalised cxcywh (see
:mod:`promptcrop.boxes`). ``B`` images, ``P`` image tokens, ``D`` token width, ``C`` embedding
width, ``Q`` query embeddings, ``M`` decoder crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from promptcrop.model.decoder import DecoderOutput
    from promptcrop.model.encoder import ImageEncoding, TextEmbedding
    from promptcrop.model.grounding import Grounding


@runtime_checkable
class Encoder(Protocol):
    """OWL-ViT's image and text sides.

    Attributes:
        model_id: where the weights came from (hub id or directory); recorded in results.
        image_size: ``S``, the square input size in pixels.
        grid_hw: ``(gh, gw)`` patch grid, ``P = gh * gw``.
        token_dim: ``D``; embed_dim: ``C``.
    """

    model_id: str
    image_size: int
    grid_hw: tuple[int, int]
    token_dim: int
    embed_dim: int

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 ``[H, W, 3]`` RGB arrays → ``pixel_values [B, 3, S, S]``."""
        ...

    def encode_images(self, pixel_values: torch.Tensor) -> ImageEncoding:
        """Image tokens ``[B, P, D]``, initial boxes ``[B, P, 4]``, class embeddings ``[B, P, C]``."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> TextEmbedding:
        """L2-normalised text embeddings ``[T, C]`` and the phrases that were truncated."""
        ...

    def embed_image_queries(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """One-shot query embeddings ``[B, C]`` of example images."""
        ...

    def query_logits(
        self, encoding: ImageEncoding, query_embeds: torch.Tensor, query_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``[B, P, Q]`` of every image token against every query embedding ``[B, Q, C]``."""
        ...


@runtime_checkable
class Decoder(Protocol):
    """The ClipCrop decoder: crops regressed around the grounded region.

    Attributes:
        config: the decoder's configuration (``DecoderConfig``).
    """

    config: Any

    def decode(self, encoding: ImageEncoding, grounding: Grounding) -> DecoderOutput:
        """Final crops ``boxes_cxcywh [B, M, 4]`` and quality ``scores [B, M]`` in [0, 1]."""
        ...
