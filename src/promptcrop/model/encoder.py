"""OWL-ViT encoder: image tokens, class embeddings, initial boxes and query embeddings.

Wraps ``transformers.OwlViTForObjectDetection`` + ``OwlViTProcessor`` (docs/METHOD.md,
"Encoder: OWL-ViT"). Boxes are normalised cxcywh relative to the whole, unpadded image (OWL-ViT v1
resizes to a square without keeping the aspect ratio, so no padding correction is needed).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from huggingface_hub.utils import EntryNotFoundError
from PIL import Image
from transformers import OwlViTForObjectDetection, OwlViTProcessor

from promptcrop.config import DEFAULT_MODEL_ID
from promptcrop.errors import InternalError, ModelUnavailableError

TOKEN_CACHE_SIZE = 4096
"""Phrases whose tokenisation an :class:`OwlViTEncoder` remembers."""


class _Tokens(NamedTuple):
    """One phrase tokenised for the text model: ids and mask padded to its positions, and whether
    the phrase had to be truncated."""

    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    truncated: bool


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


# What from_pretrained raises for missing/unreachable weights: OSError covers transformers'
# "does not appear to have a file" and huggingface_hub's HTTP/offline/cache errors; ValueError
# covers invalid repo ids (HFValidationError); EntryNotFoundError is a bare Exception subclass.
_LOAD_ERRORS = (OSError, ValueError, EntryNotFoundError)


class OwlViTFrontEnd:
    """What every OWL-ViT backend shares around its model forwards: pre-processing, phrase
    tokenisation (cached) and the text / image-query embedding steps.

    A backend (the PyTorch :class:`OwlViTEncoder`, the ONNX Runtime encoder) sets ``processor``
    (an ``OwlViTProcessor``), ``image_size``, ``embed_dim``, ``max_text_positions``, ``device``
    and ``dtype``, calls :meth:`_init_front_end`, and implements the two forwards :meth:`_text_features` and
    :meth:`_image_query_embeds`; the steps around them are this one code, so the backends
    differ only in their forwards.
    """

    processor: OwlViTProcessor
    image_size: int
    embed_dim: int
    max_text_positions: int
    device: torch.device
    dtype: torch.dtype

    def _init_front_end(self) -> None:
        self._token_cache: OrderedDict[str, _Tokens] = OrderedDict()
        self._token_lock = threading.Lock()
        self._preprocess_plan = _fast_preprocess_plan(self.processor.image_processor)

    def _grad(self) -> contextlib.AbstractContextManager[Any]:
        """The grad mode of the forwards (none by default)."""
        return torch.no_grad()

    def _text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``[T, L]`` ids and mask → ``[T, C]`` text features (not normalised)."""
        raise NotImplementedError

    def _image_query_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor | None:
        """Query images ``[Q, 3, S, S]`` → ``[Q', 1, C]`` (transformers' ``embed_image_query``;
        ``Q' < Q`` or None when some image has no query box)."""
        raise NotImplementedError

    def _check_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` pixel values on the backend's device and dtype (InternalError otherwise)."""
        expected = (3, self.image_size, self.image_size)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise InternalError(
                f"pixel_values must be [B, {', '.join(map(str, expected))}], "
                f"got {tuple(pixel_values.shape)}; use preprocess()"
            )
        return pixel_values.to(device=self.device, dtype=self.dtype)

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 ``[H, W, 3]`` RGB arrays → ``pixel_values [B, 3, S, S]`` (model device and dtype).

        OwlViTImageProcessor: resized to ``S × S`` without keeping the aspect ratio (no padding,
        so boxes stay relative to the whole image), rescaled and CLIP-normalised.
        """
        if len(images) == 0:
            raise InternalError("preprocess needs at least one image")
        for i, image in enumerate(images):
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
                    or image.shape[2] != 3:
                shape = getattr(image, "shape", None)
                dtype = getattr(image, "dtype", type(image).__name__)
                raise InternalError(f"image {i} must be a uint8 [H, W, 3] RGB array, got {shape} {dtype}")
        plan = self._preprocess_plan
        if plan is None:  # an unusual processor config: let transformers do all of it
            pixels = self.processor.image_processor(images=list(images), return_tensors="pt")
            return pixels["pixel_values"].to(device=self.device, dtype=self.dtype)
        size, resample, scale, mean, std = plan
        resized = np.stack([np.asarray(Image.fromarray(im).resize(size, resample)) for im in images])
        # contiguous before the float conversion, then in place: the same values, a third of the time
        batch = torch.from_numpy(resized).permute(0, 3, 1, 2).contiguous().to(torch.float32)  # [B, 3, S, S]
        batch.mul_(scale).sub_(torch.from_numpy(mean)[:, None, None]).div_(torch.from_numpy(std)[:, None, None])
        return batch.to(device=self.device, dtype=self.dtype)

    def embed_texts(self, texts: Sequence[str]) -> TextEmbedding:
        """Phrases → ``[T, C]`` L2-normalised embeddings (``get_text_features``).

        Phrases longer than the text model's positions are truncated explicitly (they keep
        their start and an end token) and listed in ``TextEmbedding.truncated``.
        """
        texts = [str(t) for t in texts]
        if not texts:
            return TextEmbedding(embeds=torch.zeros(0, self.embed_dim, device=self.device), truncated=())
        unique = list(dict.fromkeys(texts))  # each distinct phrase runs through the model once
        input_ids, attention_mask, cut = self._tokens(unique)
        with self._grad():
            features = self._text_features(input_ids, attention_mask)
        row = {text: i for i, text in enumerate(unique)}
        index = torch.tensor([row[t] for t in texts], device=features.device)
        embeds = torch.nn.functional.normalize(features, dim=-1).index_select(0, index)
        truncated = tuple(t for t in texts if cut[row[t]])
        return TextEmbedding(embeds=embeds, truncated=truncated)

    def _tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """``(input_ids, attention_mask, truncated)``: ids and mask ``[T, max_text_positions]`` long
        on the device, padded to the full length and truncated, and whether each phrase was cut. The tokenisation of each phrase is remembered
        (the last ``TOKEN_CACHE_SIZE`` phrases): training asks for the same few hundred phrases
        thousands of times."""
        with self._token_lock:  # an encoder may serve several threads
            cache = self._token_cache
            missing = [t for t in texts if t not in cache]
            if missing:
                tokenizer = self.processor.tokenizer
                lengths = [len(ids) for ids in tokenizer(missing, verbose=False)["input_ids"]]
                fitted = tokenizer(missing, padding="max_length", truncation=True, max_length=self.max_text_positions)
                for text, length, ids, mask in zip(missing, lengths, fitted["input_ids"], fitted["attention_mask"]):
                    cache[text] = _Tokens(tuple(ids), tuple(mask), length > self.max_text_positions)
            rows = [cache[t] for t in texts]
            for text in texts:
                cache.move_to_end(text)
            while len(cache) > TOKEN_CACHE_SIZE:
                cache.popitem(last=False)
        input_ids = torch.tensor([r.input_ids for r in rows], dtype=torch.long, device=self.device)
        attention_mask = torch.tensor([r.attention_mask for r in rows], dtype=torch.long, device=self.device)
        return input_ids, attention_mask, [r.truncated for r in rows]

    def embed_image_queries(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Query images ``[Q, 3, S, S]`` → ``[Q, C]`` L2-normalised query embeddings.

        Uses transformers' ``embed_image_query`` (docs/METHOD.md, "Encoder: OWL-ViT"): among the
        query image's boxes with IoU ≥ 0.8 · max IoU to the whole image, the class embedding least
        similar to the mean class embedding. Normalised like text embeddings (the class head
        normalises queries anyway, so logits are unchanged).
        """
        with self._grad():
            query_embeds = self._image_query_embeds(pixel_values)  # [Q, 1, C]
        count = 0 if query_embeds is None else query_embeds.shape[0]
        total = int(pixel_values.shape[0])
        if count != total:
            raise InternalError(
                f"OWL-ViT found no query box in {total - count} of {total} "
                "query images (non-finite model outputs?)"
            )
        return torch.nn.functional.normalize(query_embeds.reshape(count, -1), dim=-1)


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
        self._init_front_end()
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


def _fast_preprocess_plan(
    processor: Any,
) -> tuple[tuple[int, int], Any, float, np.ndarray, np.ndarray] | None:
    """The resize/rescale/normalise steps of an OwlViTImageProcessor, done with Pillow + torch.

    Equal to the processor for OWL-ViT's configuration (to 1e-6, checked by a test) and about
    three times as fast, which matters because pre-processing is per-image overhead on top of the
    encoder. Returns ``None`` (use the processor itself) for configs it does not cover
    (centre crop, padding, no resize, ...).
    """
    cfg = processor.to_dict()
    size = cfg.get("size") or {}
    if (
        cfg.get("do_center_crop") or cfg.get("do_pad") or not cfg.get("do_resize", True)
        or not cfg.get("do_rescale", True) or not cfg.get("do_normalize", True)
        or set(size) != {"height", "width"}
    ):
        return None
    mean = np.asarray(cfg["image_mean"], dtype=np.float32)
    std = np.asarray(cfg["image_std"], dtype=np.float32)
    resample = Image.Resampling(int(cfg.get("resample", Image.Resampling.BICUBIC)))
    return (int(size["width"]), int(size["height"])), resample, float(cfg["rescale_factor"]), mean, std


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
