"""OWL-ViT encoder: image tokens, class embeddings, initial boxes and query embeddings.

Wraps ``transformers.OwlViTForObjectDetection`` + ``OwlViTProcessor`` (docs/METHOD.md,
"Encoder: OWL-ViT"). Boxes are normalised cxcywh relative to the whole, unpadded image (OWL-ViT v1
resizes to a square without keeping the aspect ratio, so no padding correction is needed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub.utils import EntryNotFoundError
from transformers import OwlViTForObjectDetection, OwlViTProcessor

from promptcrop.backends.base import ImageEncoding, TextEmbedding
from promptcrop.backends.frontend import OwlViTFrontEnd, Tokens, preprocess_plan
from promptcrop.config import DEFAULT_MODEL_ID
from promptcrop.errors import InternalError, ModelUnavailableError

__all__ = ["ImageEncoding", "OwlViTEncoder", "TextEmbedding"]

# What from_pretrained raises for missing/unreachable weights: OSError covers transformers'
# "does not appear to have a file" and huggingface_hub's HTTP/offline/cache errors; ValueError
# covers invalid repo ids (HFValidationError); EntryNotFoundError is a bare Exception subclass.
_LOAD_ERRORS = (OSError, ValueError, EntryNotFoundError)


class OwlViTEncoder(OwlViTFrontEnd, torch.nn.Module):
    """Frozen OWL-ViT (``OwlViTForObjectDetection`` + ``OwlViTProcessor``) exposing what ClipCrop needs.

    While every parameter is frozen (the default) the model stays in eval mode and runs without
    gradients; un-freezing parameters (``requires_grad_(True)``) makes it trainable. The device is
    the module's (``.to(device)`` works); inputs are moved to it.

    Attributes:
        model_id: the hub id or local directory it was loaded from.
        token_dim: ``D``, the image token width (768 for B/32).
        embed_dim: ``C``, the query / class embedding width (512 for B/32).
        grid_hw: ``(gh, gw)`` patch grid at the processor's input size, e.g. ``(24, 24)``.
        image_size: ``S``, the square input size in pixels (768 for B/32).
        max_text_positions: the text model's positions (16); longer phrases are truncated.
    """

    def __init__(
        self, model: OwlViTForObjectDetection, processor: OwlViTProcessor, model_id: str
    ) -> None:
        super().__init__()
        config = model.config
        if config.projection_dim != config.text_config.hidden_size:
            raise ValueError(
                f"{model_id}: projection_dim ({config.projection_dim}) must equal the text hidden "
                f"size ({config.text_config.hidden_size}) for OWL-ViT's class head"
            )
        self.model = model
        self.processor = processor
        self.model_id = model_id
        self.token_dim = int(config.vision_config.hidden_size)
        self.embed_dim = int(config.projection_dim)
        self.image_size = int(config.vision_config.image_size)
        side = self.image_size // int(config.vision_config.patch_size)
        self.grid_hw = (side, side)
        self.max_text_positions = int(config.text_config.max_position_embeddings)
        self._init_front_end(transformers_tokenize(processor),
                             preprocess_plan(processor.image_processor.to_dict()))
        self.model.requires_grad_(False)
        self.model.eval()

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        model_id_or_dir: str = DEFAULT_MODEL_ID,
        *,
        local_files_only: bool = False,
        attn_implementation: str | None = None,
    ) -> OwlViTEncoder:
        """Load model and processor from a hub id or a local directory (``from_pretrained``).

        ``attn_implementation``: transformers' attention kernel (``"sdpa"``, ``"eager"``); None
        keeps transformers' choice (sdpa). Tiny models train faster on the CPU with ``"eager"``
        — sdpa's kernel costs more than the matrix products at 144 tokens of width 32.

        Raises:
            ModelUnavailableError: the weights cannot be loaded (offline and not cached, bad
                path, a directory without weights or processor files); one line naming the
                model and the fix.
        """
        name = str(model_id_or_dir)
        try:
            with _quiet_loading():
                extra = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
                model = OwlViTForObjectDetection.from_pretrained(
                    name, local_files_only=local_files_only, **extra
                )
                processor = OwlViTProcessor.from_pretrained(name, local_files_only=local_files_only)
        except _LOAD_ERRORS:
            raise ModelUnavailableError(_unavailable_message(name)) from None
        return cls(model, processor, name)

    # ------------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's parameters; pixel and query inputs are cast to it."""
        return next(self.model.parameters()).dtype

    @property
    def frozen(self) -> bool:
        """True while no parameter requires a gradient."""
        return not any(p.requires_grad for p in self.model.parameters())

    def train(self, mode: bool = True) -> OwlViTEncoder:
        """Like ``nn.Module.train``, but a frozen OWL-ViT stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def _as_input(self, array: Any, *, integer: bool = False) -> torch.Tensor:
        tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.asarray(array))
        if integer:
            return tensor.to(device=self.device, dtype=torch.long)
        return tensor.to(device=self.device, dtype=self.dtype)

    def _preprocess_unplanned(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        # an unusual processor config: let transformers do all of it
        pixels = self.processor.image_processor(images=list(images), return_tensors="pt")
        return self._as_input(pixels["pixel_values"])

    def _grad(self) -> torch.autograd.grad_mode.set_grad_enabled:
        # no_grad (not inference_mode) so frozen outputs can feed a trained decoder.
        return torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen)

    def _text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        features = self.model.owlvit.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        if not isinstance(features, torch.Tensor):  # transformers >= 5 returns a model output
            features = features.pooler_output
        return features

    def _image_query_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor | None:
        feature_map, tokens = self._feature_map(pixel_values)
        return self.model.embed_image_query(tokens, feature_map)[0]

    def _feature_map(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``image_embedder`` → (feature map ``[B, gh, gw, D]``, flattened tokens ``[B, P, D]``)."""
        feature_map = self.model.image_embedder(pixel_values=self._check_pixels(pixel_values))[0]
        batch, gh, gw, dim = feature_map.shape
        return feature_map, feature_map.reshape(batch, gh * gw, dim)

    # ------------------------------------------------------------------ the contract

    def encode_images(self, pixel_values: torch.Tensor) -> ImageEncoding:
        """``pixel_values [B, 3, S, S]`` → tokens, initial boxes and class embeddings."""
        with self._grad():
            feature_map, tokens = self._feature_map(pixel_values)  # [B, gh, gw, D], [B, P, D]
            boxes_cxcywh = self.model.box_predictor(tokens, feature_map)  # [B, P, 4]
            class_embeds = self.model.class_predictor(tokens)[1]  # [B, P, C]
        return ImageEncoding(
            tokens=tokens,
            grid_hw=(int(feature_map.shape[1]), int(feature_map.shape[2])),
            boxes_cxcywh=boxes_cxcywh,
            class_embeds=class_embeds,
        )

    def query_logits(
        self,
        encoding: ImageEncoding,
        query_embeds: torch.Tensor,
        query_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """OWL-ViT's ``class_predictor`` logits of every image token for every query.

        Args:
            encoding: ``B`` images with ``P`` tokens.
            query_embeds: ``[B, W, C]`` query embeddings (text or image queries; padding rows
                allowed).
            query_mask: ``[B, W]`` bool/0-1, False for padding queries (their logits become the
                dtype's minimum); None means all valid.

        Returns:
            ``[B, P, W]`` float logits.
        """
        batch = encoding.batch_size
        if query_embeds.ndim != 3 or query_embeds.shape[0] != batch \
                or query_embeds.shape[2] != self.embed_dim:
            raise InternalError(
                f"query_embeds must be [{batch}, W, {self.embed_dim}], got {tuple(query_embeds.shape)}"
            )
        if query_mask is not None:
            if tuple(query_mask.shape) != tuple(query_embeds.shape[:2]):
                raise InternalError(
                    f"query_mask must be {tuple(query_embeds.shape[:2])}, got {tuple(query_mask.shape)}"
                )
            query_mask = query_mask.to(self.device)
        with self._grad():
            return self.model.class_predictor(
                encoding.tokens.to(device=self.device, dtype=self.dtype),
                query_embeds.to(device=self.device, dtype=self.dtype),
                query_mask,
            )[0]


def transformers_tokenize(processor: Any) -> Any:
    """The front end's tokenise function (:data:`promptcrop.backends.frontend.Tokenize`) for the
    transformers CLIP tokenizer of ``processor`` (read at each call)."""

    def tokenize(texts: Sequence[str], positions: int) -> list[Tokens]:
        tokenizer = processor.tokenizer
        lengths = [len(ids) for ids in tokenizer(list(texts), verbose=False)["input_ids"]]
        fitted = tokenizer(list(texts), padding="max_length", truncation=True, max_length=positions)
        return [Tokens(tuple(ids), tuple(mask), length > positions)
                for length, ids, mask in zip(lengths, fitted["input_ids"], fitted["attention_mask"])]

    return tokenize


def _unavailable_message(name: str) -> str:
    """One line: which model is missing, why, and how to fix it."""
    path = Path(name).expanduser()
    if path.is_dir():
        reason = "the directory does not hold a complete OWL-ViT model " \
                 "(config.json, weights and processor files)"
        download = DEFAULT_MODEL_ID
    else:
        reason = "it is neither a local model directory nor in the Hugging Face cache, " \
                 "and it could not be downloaded"
        download = name if _looks_like_hub_id(name) else DEFAULT_MODEL_ID
    return (
        f"OWL-ViT model {name!r} is not available: {reason}; run `promptcrop download {download}` "
        "while online, pass a local model directory with --model, or go online"
    )


def _looks_like_hub_id(name: str) -> bool:
    """``owner/name`` with no path syntax (a guess only used to word the error message)."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~")) and "\\" not in name


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar from transformers: it would land in the CLI's output
    and in every batch; downloads (huggingface_hub's own bars) are not affected."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
