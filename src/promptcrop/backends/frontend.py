"""What every OWL-ViT backend shares around its model forwards: image pre-processing, phrase
tokenisation (cached), and the text / image-query embedding steps.

Nothing here needs PyTorch or transformers: pre-processing is Pillow + NumPy from the image
processor's configuration (:func:`preprocess_plan`), and tokenisation is a function the backend
supplies (transformers' tokenizer for the PyTorch backend, the exported ``tokenizer.json`` read by
the ``tokenizers`` library for the ONNX Runtime backend). Each backend converts NumPy inputs to
what its forwards take (:meth:`OwlViTFrontEnd._as_input`), so the steps are one code and the
backends differ only in their forwards.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from promptcrop import arrays as A
from promptcrop.backends.base import TextEmbedding
from promptcrop.errors import InternalError

TOKEN_CACHE_SIZE = 4096
"""Phrases whose tokenisation an encoder remembers."""


class Tokens(NamedTuple):
    """One phrase tokenised for the text model: ids and mask padded to its positions, and whether
    the phrase had to be truncated."""

    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    truncated: bool


Tokenize = Callable[[Sequence[str], int], list[Tokens]]
"""``(phrases, positions) → one Tokens per phrase``: start and end tokens included, truncated to
``positions`` (keeping the end token) and padded to it."""


@dataclass(frozen=True)
class PreprocessPlan:
    """OwlViTImageProcessor's steps for OWL-ViT's configuration: resize to ``size`` = ``(W, H)``
    with ``resample`` (no aspect kept, no padding), multiply by ``scale``, subtract ``mean`` and
    divide by ``std`` (per RGB channel, float32)."""

    size: tuple[int, int]
    resample: Image.Resampling
    scale: float
    mean: np.ndarray
    std: np.ndarray


def preprocess_plan(config: Mapping[str, Any]) -> PreprocessPlan | None:
    """The :class:`PreprocessPlan` of an image processor's configuration (``to_dict()`` or its
    JSON file), or None for a configuration it does not cover (centre crop, padding, no resize…).

    Equal to transformers' OwlViTImageProcessor for OWL-ViT's configuration (to 1e-6, checked by
    a test) and faster, which matters because pre-processing is per-image overhead on top of the
    encoder.
    """
    size = config.get("size") or {}
    if (
        config.get("do_center_crop") or config.get("do_pad") or not config.get("do_resize", True)
        or not config.get("do_rescale", True) or not config.get("do_normalize", True)
        or set(size) != {"height", "width"}
    ):
        return None
    return PreprocessPlan(
        size=(int(size["width"]), int(size["height"])),
        resample=Image.Resampling(int(config.get("resample", Image.Resampling.BICUBIC))),
        scale=float(config["rescale_factor"]),
        mean=np.asarray(config["image_mean"], dtype=np.float32),
        std=np.asarray(config["image_std"], dtype=np.float32),
    )


def preprocess_arrays(images: Sequence[np.ndarray], plan: PreprocessPlan) -> np.ndarray:
    """uint8 ``[H, W, 3]`` RGB arrays → float32 ``[B, 3, S, S]`` pixel values (:class:`PreprocessPlan`)."""
    resized = np.stack([np.asarray(Image.fromarray(im).resize(plan.size, plan.resample)) for im in images])
    # contiguous before the float conversion, then in place: the same values, a third of the time
    batch = np.ascontiguousarray(resized.transpose(0, 3, 1, 2)).astype(np.float32)  # [B, 3, S, S]
    batch *= np.float32(plan.scale)
    batch -= plan.mean[:, None, None]
    batch /= plan.std[:, None, None]
    return batch


def check_images(images: Sequence[np.ndarray]) -> None:
    """InternalError unless ``images`` is a non-empty list of uint8 ``[H, W, 3]`` arrays."""
    if len(images) == 0:
        raise InternalError("preprocess needs at least one image")
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise InternalError(f"image {i} must be a uint8 [H, W, 3] RGB array, got {shape} {dtype}")


class OwlViTFrontEnd:
    """The steps around an OWL-ViT backend's forwards, shared by every backend.

    A backend sets ``image_size``, ``embed_dim`` and ``max_text_positions``, calls
    :meth:`_init_front_end` with its tokeniser and pre-processing plan, and implements
    :meth:`_as_input` (NumPy → what its forwards take), :meth:`_text_features` and
    :meth:`_image_query_embeds`; it may override :meth:`_grad` and :meth:`_preprocess_unplanned`.
    """

    image_size: int
    embed_dim: int
    max_text_positions: int

    def _init_front_end(self, tokenize: Tokenize, plan: PreprocessPlan | None) -> None:
        self._tokenize = tokenize
        self._token_cache: OrderedDict[str, Tokens] = OrderedDict()
        self._token_lock = threading.Lock()
        self._preprocess_plan = plan

    # ------------------------------------------------------------------ what a backend provides

    def _as_input(self, array: Any, *, integer: bool = False) -> Any:
        """``array`` (NumPy, or the backend's own kind) as a forward input: float pixel values and
        query embeddings, or (``integer``) token ids and masks."""
        raise NotImplementedError

    def _grad(self) -> contextlib.AbstractContextManager[Any]:
        """The grad mode of the forwards (none by default)."""
        return contextlib.nullcontext()

    def _text_features(self, input_ids: Any, attention_mask: Any) -> Any:
        """``[T, L]`` ids and mask → ``[T, C]`` text features (not normalised)."""
        raise NotImplementedError

    def _image_query_embeds(self, pixel_values: Any) -> Any | None:
        """Query images ``[Q, 3, S, S]`` → ``[Q', 1, C]`` (OWL-ViT's ``embed_image_query``;
        ``Q' < Q`` or None when some image has no query box)."""
        raise NotImplementedError

    def _preprocess_unplanned(self, images: Sequence[np.ndarray]) -> Any:
        """Pre-processing for an image-processor configuration :func:`preprocess_plan` does not cover."""
        raise InternalError("this backend's image processor configuration is not supported")

    # ------------------------------------------------------------------ the shared steps

    def _check_pixels(self, pixel_values: Any) -> Any:
        """``[B, 3, S, S]`` pixel values as the backend's input (InternalError otherwise)."""
        expected = (3, self.image_size, self.image_size)
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise InternalError(
                f"pixel_values must be [B, {', '.join(map(str, expected))}], "
                f"got {tuple(pixel_values.shape)}; use preprocess()"
            )
        return self._as_input(pixel_values)

    def preprocess(self, images: Sequence[np.ndarray]) -> Any:
        """uint8 ``[H, W, 3]`` RGB arrays → ``pixel_values [B, 3, S, S]`` (the backend's input).

        OwlViTImageProcessor: resized to ``S × S`` without keeping the aspect ratio (no padding,
        so boxes stay relative to the whole image), rescaled and CLIP-normalised.
        """
        check_images(images)
        if self._preprocess_plan is None:
            return self._preprocess_unplanned(images)
        return self._as_input(preprocess_arrays(images, self._preprocess_plan))

    def embed_texts(self, texts: Sequence[str]) -> TextEmbedding:
        """Phrases → ``[T, C]`` L2-normalised embeddings (``get_text_features``).

        Phrases longer than the text model's positions are truncated explicitly (they keep
        their start and an end token) and listed in ``TextEmbedding.truncated``.
        """
        texts = [str(t) for t in texts]
        if not texts:
            return TextEmbedding(embeds=self._as_input(np.zeros((0, self.embed_dim), np.float32)), truncated=())
        unique = list(dict.fromkeys(texts))  # each distinct phrase runs through the model once
        input_ids, attention_mask, cut = self._tokens(unique)
        with self._grad():
            features = self._text_features(input_ids, attention_mask)
        row = {text: i for i, text in enumerate(unique)}
        embeds = A.l2_normalize(features)[[row[t] for t in texts]]
        truncated = tuple(t for t in texts if cut[row[t]])
        return TextEmbedding(embeds=embeds, truncated=truncated)

    def _tokens(self, texts: Sequence[str]) -> tuple[Any, Any, list[bool]]:
        """``(input_ids, attention_mask, truncated)``: ids and mask ``[T, max_text_positions]``
        (int64, the backend's input), padded to the full length and truncated, and whether each
        phrase was cut. The tokenisation of each phrase is remembered (the last
        :data:`TOKEN_CACHE_SIZE` phrases): training asks for the same few hundred phrases
        thousands of times."""
        with self._token_lock:  # an encoder may serve several threads
            cache = self._token_cache
            missing = [t for t in texts if t not in cache]
            if missing:
                for text, tokens in zip(missing, self._tokenize(missing, self.max_text_positions)):
                    cache[text] = tokens
            rows = [cache[t] for t in texts]
            for text in texts:
                cache.move_to_end(text)
            while len(cache) > TOKEN_CACHE_SIZE:
                cache.popitem(last=False)
        input_ids = np.asarray([r.input_ids for r in rows], dtype=np.int64)
        attention_mask = np.asarray([r.attention_mask for r in rows], dtype=np.int64)
        return (self._as_input(input_ids, integer=True), self._as_input(attention_mask, integer=True),
                [r.truncated for r in rows])

    def embed_image_queries(self, pixel_values: Any) -> Any:
        """Query images ``[Q, 3, S, S]`` → ``[Q, C]`` L2-normalised query embeddings.

        OWL-ViT's ``embed_image_query`` (docs/METHOD.md, "Encoder: OWL-ViT"): among the query
        image's boxes with IoU ≥ 0.8 · max IoU to the whole image, the class embedding least
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
        return A.l2_normalize(query_embeds.reshape(count, -1))
