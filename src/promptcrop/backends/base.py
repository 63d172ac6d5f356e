"""The interfaces an inference backend implements (structural: any object with these members)
and the data they exchange (:class:`ImageEncoding`, :class:`TextEmbedding`, :class:`DecoderOutput`).

Arrays are torch tensors on the backend's device (PyTorch backend) or NumPy arrays (ONNX Runtime
backend, which runs without PyTorch); the shared steps after the forwards take either
(:mod:`promptcrop.arrays`). Boxes are normalised cxcywh (see
:mod:`promptcrop.boxes`). ``B`` images, ``P`` image tokens, ``D`` token width, ``C`` embedding
width, ``Q`` query embeddings, ``M`` decoder crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from promptcrop.errors import InternalError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from promptcrop.model.grounding import Grounding


@dataclass
class ImageEncoding:
    """What the frozen OWL-ViT image side produces for a batch of images (torch tensors from the
    PyTorch backend, NumPy arrays from the ONNX Runtime backend).

    Attributes:
        tokens: ``[B, P, D]`` float image tokens ``t_img`` — the ``image_embedder`` feature map
            flattened row-major over the grid (``P = gh * gw``; ``D = 768`` for B/32).
        grid_hw: ``(gh, gw)`` patch grid, e.g. ``(24, 24)`` for B/32 at 768 px.
        boxes_cxcywh: ``[B, P, 4]`` initial boxes ``b_ini`` (``box_predictor``), normalised cxcywh.
        class_embeds: ``[B, P, C]`` class-head image embeddings (``class_predictor`` without
            queries, i.e. not normalised; ``C = 512`` for B/32).
    """

    tokens: Any
    grid_hw: tuple[int, int]
    boxes_cxcywh: Any
    class_embeds: Any

    def __post_init__(self) -> None:
        gh, gw = self.grid_hw
        if self.tokens.ndim != 3 or self.tokens.shape[1] != gh * gw:
            raise InternalError(
                f"tokens must be [B, {gh * gw}, D] for grid {self.grid_hw}, "
                f"got {tuple(self.tokens.shape)}"
            )
        batch, num_tokens = self.tokens.shape[:2]
        if tuple(self.boxes_cxcywh.shape) != (batch, num_tokens, 4):
            raise InternalError(
                f"boxes_cxcywh must be [{batch}, {num_tokens}, 4], got {tuple(self.boxes_cxcywh.shape)}"
            )
        if self.class_embeds.ndim != 3 or tuple(self.class_embeds.shape[:2]) != (batch, num_tokens):
            raise InternalError(
                f"class_embeds must be [{batch}, {num_tokens}, C], got {tuple(self.class_embeds.shape)}"
            )

    @property
    def batch_size(self) -> int:
        """``B``."""
        return int(self.tokens.shape[0])

    def to(self, device: torch.device | str) -> ImageEncoding:
        """The same encoding with every tensor on ``device`` (torch tensors only)."""
        return ImageEncoding(
            tokens=self.tokens.to(device),
            grid_hw=self.grid_hw,
            boxes_cxcywh=self.boxes_cxcywh.to(device),
            class_embeds=self.class_embeds.to(device),
        )


@dataclass
class TextEmbedding:
    """Text query embeddings (a torch tensor or a NumPy array, as the backend computes them).

    Attributes:
        embeds: ``[T, C]`` float, L2-normalised text embeddings (``get_text_features``), one row
            per input phrase, in input order.
        truncated: the input phrases that did not fit the text model's positions (16 for OWL-ViT)
            and were cut, in input order.
    """

    embeds: Any
    truncated: tuple[str, ...]


@dataclass
class DecoderOutput:
    """What a decoder predicts (:class:`~promptcrop.model.decoder.ClipCropDecoder`: torch tensors;
    the ONNX decoder: NumPy arrays). L = layers, B = batch, M = queries.

    ``boxes_cxcywh``: ``[B, M, 4]`` final prediction ``b_u + b_ofs`` (normalised cxcywh), clamped
    to the image with sides of at least ``min_box_size`` — use it for inference.
    ``scores``: ``[B, M]`` quality scores in [0, 1].
    ``layer_boxes_cxcywh``: ``[L, B, M, 4]`` unclamped ``b_u + b_ofs`` of every layer (last =
    final) — use it for the losses; L = 1 (the last layer) after ``all_layers=False``.
    ``layer_scores``: ``[L, B, M]`` scores of every layer (likewise).
    """

    boxes_cxcywh: Any
    scores: Any
    layer_boxes_cxcywh: Any
    layer_scores: Any


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
