"""ClipCropModel: the frozen OWL-ViT encoder, the grounding step and the trainable decoder.

``forward`` runs the whole paper pipeline on pixel values and query embeddings; ``decode`` runs
only the decoder on an encoding and a grounding computed beforehand (training on cached
encodings, or the predictor reusing one encoding for several queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from promptcrop.checkpoint import EncoderInfo, load_decoder, save_decoder
from promptcrop.decoder import ClipCropDecoder, DecoderOutput
from promptcrop.encoder import ImageEncoding
from promptcrop.errors import InternalError
from promptcrop.grounding import Grounding, ground, unconditioned
from promptcrop.queries import DEFAULT_QUERY_PARTS

if TYPE_CHECKING:
    from promptcrop.encoder import OwlViTEncoder


@dataclass
class ClipCropOutput:
    """Everything one forward pass produced.

    ``encoding``: the image side of the encoder (tokens ``[B, P, D]``, ``b_ini`` ``[B, P, 4]``).
    ``grounding``: the selected tokens ``[B, W, ...]`` and the anchor ``b_u`` ``[B, 4]`` (W = 0
    for the unconditioned ClipCrop-base). ``decoder``: crops ``[B, M, 4]`` normalised cxcywh and
    scores ``[B, M]``, plus per-layer outputs for the losses.
    """

    encoding: ImageEncoding
    grounding: Grounding
    decoder: DecoderOutput


class ClipCropModel(nn.Module):
    """Encoder (frozen and in eval mode) + decoder.

    ``encoder``: an ``OwlViTEncoder``; its parameters are frozen here, so it runs without
    gradients, and ``model.train()`` leaves it in eval mode. ``decoder``: a
    :class:`ClipCropDecoder` whose ``token_dim`` equals the encoder's; ``model.train()`` trains it.
    """

    def __init__(self, encoder: OwlViTEncoder, decoder: ClipCropDecoder) -> None:
        super().__init__()
        if encoder.token_dim != decoder.config.token_dim:
            raise InternalError(
                f"encoder token width {encoder.token_dim} does not match the decoder's "
                f"token_dim {decoder.config.token_dim}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    @classmethod
    def from_pretrained(
        cls, decoder_dir_or_hub_id: str | Path, encoder: OwlViTEncoder, **kwargs: Any
    ) -> ClipCropModel:
        """``encoder`` + the decoder checkpoint at ``decoder_dir_or_hub_id``, checked to be made
        for that encoder. Keyword arguments go to :func:`promptcrop.checkpoint.load_decoder`
        (``allow_encoder_mismatch``, ``revision``, ``cache_dir``, ``local_files_only``); the
        decoder is put on the encoder's device."""
        decoder, _ = load_decoder(
            decoder_dir_or_hub_id, expected_encoder=encoder,
            device=encoder.device, **kwargs,
        )
        return cls(encoder, decoder)

    def save_decoder(
        self, directory: str | Path, *, preset: str | None = None,
        query_parts: str = DEFAULT_QUERY_PARTS, overwrite: bool = False,
    ) -> Path:
        """Save the decoder as a checkpoint recording this model's encoder and the query parts it
        was trained on (see :func:`promptcrop.checkpoint.save_decoder`)."""
        return save_decoder(
            self.decoder, directory, encoder_info=EncoderInfo.from_encoder(self.encoder),
            preset=preset, query_parts=query_parts, overwrite=overwrite,
        )

    def train(self, mode: bool = True) -> ClipCropModel:
        """Set the decoder's mode; the encoder stays in eval mode (no dropout, frozen)."""
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(
        self,
        pixel_values: torch.Tensor,
        query_embeds: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
    ) -> ClipCropOutput:
        """Encode, ground and decode a batch.

        ``pixel_values``: ``[B, 3, S, S]`` from ``encoder.preprocess``. ``query_embeds``:
        ``[B, W, C]`` text or image-query embeddings, or None for ClipCrop-base (no condition,
        ``b_u`` = whole image). ``query_mask``: ``[B, W]`` bool, False for padding queries.
        """
        if query_embeds is None and query_mask is not None:
            raise InternalError("query_mask was given without query_embeds")
        encoding = self.encode(pixel_values)
        grounding = self.ground(encoding, query_embeds, query_mask)
        return ClipCropOutput(encoding, grounding, self.decode(encoding, grounding))

    def encode(self, pixel_values: torch.Tensor) -> ImageEncoding:
        """The frozen encoder's image side (computed without gradients while it is frozen)."""
        return self.encoder.encode_images(pixel_values)

    def ground(
        self,
        encoding: ImageEncoding,
        query_embeds: torch.Tensor | None,
        query_mask: torch.Tensor | None = None,
    ) -> Grounding:
        """Select one token per query (``query_embeds`` ``[B, W, C]``), or none when it is None."""
        if query_embeds is None:
            return unconditioned(encoding)
        logits = self.encoder.query_logits(encoding, query_embeds, query_mask)  # [B, P, W]
        return ground(encoding, logits, query_mask)

    def decode(self, encoding: ImageEncoding, grounding: Grounding, *, all_layers: bool = True) -> DecoderOutput:
        """Run the decoder on an encoding and its grounding (gradients flow into the decoder);
        ``all_layers=False`` runs the heads on the last layer only (inference)."""
        return self.decoder(
            encoding.tokens,
            encoding.grid_hw,
            grounding.tokens,
            grounding.mask,
            grounding.union_cxcywh,
            all_layers=all_layers,
        )
