"""The one inference object shared by the CLI, the batch runner, the evaluation harness and the
Python API.

``Predictor`` decides device and dtype once, loads OWL-ViT and the decoder lazily, caches text
embeddings (LRU keyed by model and phrase), and owns the pre- and post-processing. Three modes:

- ``clipcrop`` — a trained ClipCrop decoder regresses crops around the grounded region;
- ``zeroshot`` — OWL-ViT grounding gives the region, the training-free composer crops around it;
- ``offline`` — no weights at all: a saliency estimate gives the region, the composer crops.

``mode="auto"`` picks ``clipcrop`` when a decoder is given, ``zeroshot`` when the OWL-ViT weights
load, and ``offline`` when there is no query and no weights.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from promptcrop import boxes as B
from promptcrop.composer import ComposerConfig, CropCandidate, compose
from promptcrop.errors import ModelUnavailableError, PromptcropError
from promptcrop.images import LoadedImage, load_image
from promptcrop.queries import ParsedQuery, parse_query
from promptcrop.results import CropResult, GroundedBox, Prediction
from promptcrop.saliency import SaliencyMap, compute_saliency, salient_region

DEFAULT_MODEL = "google/owlvit-base-patch32"
MODE_CHOICES = ("auto", "clipcrop", "zeroshot", "offline")
QUERY_PARTS = ("both", "text", "keywords")
# Generic prompts whose strongest detections define the region when no query is given.
GENERIC_PROMPTS = ("a photo of a person", "a face", "an animal", "a vehicle", "a main object")

ImageInput = Any  # path, bytes, PIL image or array: anything images.load_image accepts


@dataclass(frozen=True)
class CropRequest:
    """What the caller asks of one image, validated once.

    ``aspects``: width/height ratios, in request order; ``None`` alone means "free" (the decoder's
    own boxes; the composer then uses the image's ratio). ``output_size``: exact ``(W, H)`` output.
    ``focus`` / ``avoid``: ``[N, 4]`` xyxy pixel boxes to keep / to exclude when possible.
    """

    k: int = 5
    aspects: tuple[float | None, ...] = (None,)
    output_size: tuple[int, int] | None = None
    fit: str = "crop"
    focus: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    avoid: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if self.fit not in ("crop", "pad"):
            raise ValueError(f"fit must be 'crop' or 'pad', got {self.fit!r}")
        for name in ("focus", "avoid"):
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1, 4)
            if arr.size and ((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])).any():
                raise ValueError(f"{name} boxes need x2 > x1 and y2 > y1, got {arr.tolist()}")
            object.__setattr__(self, name, arr)

    @classmethod
    def build(
        cls,
        *,
        k: int = 5,
        aspect: float | str | Sequence[float | str] | None = None,
        size: tuple[int, int] | str | None = None,
        fit: str = "crop",
        focus: Any = (),
        avoid: Any = (),
    ) -> CropRequest:
        """Parse user-facing arguments (``"16:9"``, ``"1080x1350"``...) into a request."""
        output_size = parse_size(size) if size is not None else None
        if output_size is not None:
            if aspect is not None:
                raise ValueError("give either an aspect ratio or an exact size, not both")
            aspects: tuple[float | None, ...] = (output_size[0] / output_size[1],)
        elif aspect is None:
            aspects = (None,)
        else:
            items = [aspect] if isinstance(aspect, (str, int, float)) else list(aspect)
            if not items:
                raise ValueError("empty list of aspect ratios")
            aspects = tuple(dict.fromkeys(B.parse_aspect_ratio(a) for a in items))
        return cls(k=k, aspects=aspects, output_size=output_size, fit=fit, focus=focus, avoid=avoid)


def parse_size(size: tuple[int, int] | str) -> tuple[int, int]:
    """``"1080x1350"`` or ``(1080, 1350)`` → ``(W, H)`` positive ints; ValueError otherwise."""
    try:
        if isinstance(size, str):
            w_text, h_text = size.lower().split("x")
            w, h = int(w_text), int(h_text)
        else:
            w, h = (int(v) for v in size)
    except (ValueError, TypeError):
        raise ValueError(f"invalid size {size!r}: expected WxH in pixels, e.g. 1080x1350") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"invalid size {size!r}: width and height must be positive")
    return w, h


class _LRU:
    """A tiny LRU dict for text embeddings: (model, phrase) → (embedding ``[C]``, truncated)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class _Condition:
    """Query embeddings for one image: ``embeds [W, C]`` and the phrase of each row."""

    embeds: torch.Tensor
    phrases: tuple[str, ...]
    truncated: tuple[str, ...] = ()
    query: str | None = None


class Predictor:
    """Crops images, optionally conditioned on a text query or a query image.

    Args:
        model: OWL-ViT hub id or local directory (``None`` = never load weights: offline only).
        decoder: a ClipCrop decoder checkpoint (directory or hub id); enables the ``clipcrop`` mode.
        mode: ``auto`` | ``clipcrop`` | ``zeroshot`` | ``offline`` (see the module docstring).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; decided once here.
        dtype: model dtype; default float32 (bfloat16/float16 only make sense on CUDA).
        local_files_only: never touch the network; load weights only from the local cache/dirs.
        query_parts: which query embeddings ground the query: ``both`` (full text + keywords, the
            paper's default), ``text`` (full text only) or ``keywords`` (paper Table 4 ablations).
        composer: composition settings for the ``zeroshot`` and ``offline`` modes.
        max_pixels: images above this many pixels are refused.
        dedup_iou: crops of the same ratio overlap less than this (near-duplicate removal).
        detection_threshold: OWL-ViT probability above which a generic detection counts
            (unconditioned ``zeroshot``).
        batch_size: images per OWL-ViT forward in :meth:`predict_batch`.
        encoder: an already loaded ``OwlViTEncoder`` to use instead of loading ``model`` (lets
            several predictors, e.g. one per mode in an evaluation, share one copy of the weights).
    """

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        decoder: str | None = None,
        *,
        mode: str = "auto",
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        local_files_only: bool = False,
        query_parts: str = "both",
        composer: ComposerConfig | None = None,
        max_pixels: int = 64_000_000,
        text_cache_size: int = 512,
        dedup_iou: float = 0.7,
        detection_threshold: float = 0.1,
        batch_size: int = 8,
        encoder: Any = None,
    ) -> None:
        if mode not in MODE_CHOICES:
            raise ValueError(f"mode must be one of {', '.join(MODE_CHOICES)}, got {mode!r}")
        if query_parts not in QUERY_PARTS:
            raise ValueError(f"query_parts must be one of {', '.join(QUERY_PARTS)}, got {query_parts!r}")
        if mode == "clipcrop" and decoder is None:
            raise ValueError("mode 'clipcrop' needs a decoder checkpoint (decoder=...)")
        if mode in ("clipcrop", "zeroshot") and model is None:
            raise ValueError(f"mode {mode!r} needs OWL-ViT weights (model=...)")
        if not 0.0 < dedup_iou <= 1.0:
            raise ValueError(f"dedup_iou must be in (0, 1], got {dedup_iou}")
        if batch_size < 1 or text_cache_size < 1 or max_pixels < 1:
            raise ValueError("batch_size, text_cache_size and max_pixels must be positive")
        self.model_id = model
        self.decoder_id = decoder
        self.mode = mode
        self.device = _resolve_device(device)
        self.dtype = dtype or torch.float32
        self.local_files_only = local_files_only
        self.query_parts = query_parts
        self.composer_config = composer or ComposerConfig()
        self.max_pixels = max_pixels
        self.dedup_iou = dedup_iou
        self.detection_threshold = detection_threshold
        self.batch_size = batch_size
        self._text_cache = _LRU(text_cache_size)
        self._encoder: Any = None if encoder is None else encoder.to(device=self.device, dtype=self.dtype)
        if encoder is not None:
            self.model_id = encoder.model_id
        self._encoder_error: ModelUnavailableError | None = None
        self._clipcrop: Any = None

    # ------------------------------------------------------------------ lazy loading

    @property
    def encoder(self) -> Any:
        """The OWL-ViT encoder, loaded on first use (raises ModelUnavailableError)."""
        if self._encoder is None:
            if self.model_id is None:
                raise ModelUnavailableError("no OWL-ViT model configured (model=None): only the offline mode runs")
            if self._encoder_error is not None:
                raise self._encoder_error
            from promptcrop.encoder import OwlViTEncoder

            try:
                enc = OwlViTEncoder.from_pretrained(self.model_id, local_files_only=self.local_files_only)
            except ModelUnavailableError as exc:
                self._encoder_error = exc
                raise
            self._encoder = enc.to(device=self.device, dtype=self.dtype)
        return self._encoder

    @property
    def loaded_encoder(self) -> Any:
        """The OWL-ViT encoder if already loaded (to share with another Predictor), else None."""
        return self._encoder

    def weights_available(self) -> bool:
        """True when the OWL-ViT weights load (tries once, then remembers)."""
        try:
            self.encoder
        except ModelUnavailableError:
            return False
        return True

    @property
    def clipcrop(self) -> Any:
        """``ClipCropModel`` (encoder + decoder), loaded on first use."""
        if self._clipcrop is None:
            from promptcrop.checkpoint import load_decoder
            from promptcrop.model import ClipCropModel

            encoder = self.encoder
            decoder, _info = load_decoder(
                self.decoder_id, expected_encoder=encoder, device=self.device
            )
            self._clipcrop = ClipCropModel(encoder, decoder.to(device=self.device, dtype=self.dtype)).eval()
        return self._clipcrop

    def resolve_mode(self, has_condition: bool) -> str:
        """The mode a call runs in, per the ``auto`` rules; raises a clear error when impossible."""
        if self.mode == "offline":
            if has_condition:
                raise PromptcropError(
                    "the offline mode uses no model and cannot follow a query; "
                    "drop the query or load OWL-ViT weights"
                )
            return "offline"
        if self.mode != "auto":
            return self.mode
        if self.decoder_id is not None:
            return "clipcrop"
        if self.model_id is not None and self.weights_available():
            return "zeroshot"
        if has_condition:
            reason = str(self._encoder_error) if self._encoder_error else "no OWL-ViT model configured"
            raise ModelUnavailableError(
                f"{reason} — a query needs the OWL-ViT weights; without them only the offline "
                "mode (no query) runs"
            )
        return "offline"

    # ------------------------------------------------------------------ public API

    def predict(
        self,
        image: ImageInput,
        query: str | None = None,
        query_image: ImageInput | None = None,
        *,
        k: int = 5,
        aspect: float | str | Sequence[float | str] | None = None,
        size: tuple[int, int] | str | None = None,
        fit: str = "crop",
        focus: Any = (),
        avoid: Any = (),
    ) -> Prediction:
        """Crop one image. See :meth:`predict_batch` for the arguments; returns one Prediction."""
        request = CropRequest.build(k=k, aspect=aspect, size=size, fit=fit, focus=focus, avoid=avoid)
        return self.predict_batch([image], [query], query_image=query_image, request=request)[0]

    def predict_batch(
        self,
        images: Sequence[ImageInput],
        queries: Sequence[str | None] | str | None = None,
        *,
        query_image: ImageInput | None = None,
        request: CropRequest | None = None,
        **request_kwargs: Any,
    ) -> list[Prediction]:
        """Crop several images; the OWL-ViT forward runs in batches of ``batch_size``.

        Args:
            images: paths, bytes, PIL images or ``[H, W, 3]`` arrays.
            queries: one text query per image, or one for all, or None (unconditioned).
            query_image: an example image of what to keep (one-shot), instead of a text query.
            request: a :class:`CropRequest`, or its arguments as keywords (``k``, ``aspect``,
                ``size``, ``fit``, ``focus``, ``avoid``).
        Returns:
            one :class:`Prediction` per image, crops as xyxy int pixels of the upright image.
        """
        if request is None:
            request = CropRequest.build(**request_kwargs)
        elif request_kwargs:
            raise ValueError("pass either request= or its keyword arguments, not both")
        query_list = _broadcast_queries(queries, len(images))
        if query_image is not None and any(q is not None for q in query_list):
            raise ValueError("give a text query or a query image, not both")
        t0 = time.perf_counter()
        loaded = [load_image(img, max_pixels=self.max_pixels) for img in images]
        parsed = [parse_query(q) for q in query_list]
        load_s = (time.perf_counter() - t0) / max(len(images), 1)
        has_condition = [p is not None or query_image is not None for p in parsed]
        modes = [self.resolve_mode(c) for c in has_condition]
        results: list[Prediction | None] = [None] * len(images)
        model_idx = [i for i, m in enumerate(modes) if m != "offline"]
        for i, m in enumerate(modes):
            if m == "offline":
                results[i] = self._predict_offline(loaded[i], request)
        image_condition = self._image_condition(query_image) if query_image is not None and model_idx else None
        for start in range(0, len(model_idx), self.batch_size):
            chunk = model_idx[start : start + self.batch_size]
            preds = self._predict_with_model(
                [loaded[i] for i in chunk], [parsed[i] for i in chunk], image_condition,
                [modes[i] for i in chunk], request,
            )
            for i, pred in zip(chunk, preds):
                results[i] = pred
        for pred in results:
            pred.timings["load"] = load_s  # type: ignore[union-attr]
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ modes

    def _predict_offline(self, image: LoadedImage, request: CropRequest) -> Prediction:
        t0 = time.perf_counter()
        sal = compute_saliency(image.array)
        region = salient_region(sal)
        t1 = time.perf_counter()
        crops = self._compose(image, region, sal, np.zeros((0, 4)), request, "offline")
        t2 = time.perf_counter()
        return Prediction(
            crops=crops, image_size=image.size, mode="offline", region=_tuple(region),
            timings={"saliency": t1 - t0, "compose": t2 - t1},
        )

    @torch.inference_mode()
    def _predict_with_model(
        self,
        images: list[LoadedImage],
        parsed: list[ParsedQuery | None],
        image_condition: _Condition | None,
        modes: list[str],
        request: CropRequest,
    ) -> list[Prediction]:
        from promptcrop.grounding import ground, unconditioned

        encoder = self.encoder
        t0 = time.perf_counter()
        pixel_values = encoder.preprocess([im.array for im in images]).to(self.device, self.dtype)
        t1 = time.perf_counter()
        encoding = encoder.encode_images(pixel_values)
        t2 = time.perf_counter()
        per_image_prep = (t1 - t0) / len(images)
        per_image_enc = (t2 - t1) / len(images)
        out: list[Prediction] = []
        for b, (image, pq, mode) in enumerate(zip(images, parsed, modes)):
            enc_b = _select(encoding, b)
            t3 = time.perf_counter()
            cond = image_condition or self._text_condition(pq)
            t4 = time.perf_counter()
            if cond is not None:
                logits = encoder.query_logits(enc_b, cond.embeds[None].to(self.device, self.dtype))
                grounding = ground(enc_b, logits)
            else:
                grounding = unconditioned(enc_b)
            t5 = time.perf_counter()
            if mode == "clipcrop":
                pred = self._clipcrop_crops(image, enc_b, grounding, request)
            else:
                pred = self._zeroshot_crops(image, enc_b, grounding, cond, request)
            t6 = time.perf_counter()
            pred.grounding = _grounded_boxes(grounding, cond, image.size)
            if cond is not None:
                pred.query, pred.phrases, pred.truncated = cond.query, cond.phrases, cond.truncated
            pred.timings.update(
                {"preprocess": per_image_prep, "encode": per_image_enc, "text": t4 - t3,
                 "ground": t5 - t4, "crop": t6 - t5}
            )
            out.append(pred)
        return out

    def _clipcrop_crops(self, image: LoadedImage, enc: Any, grounding: Any, request: CropRequest) -> Prediction:
        dec = self.clipcrop.decode(enc, grounding, all_layers=False)
        W, H = image.size
        boxes_px = B.clamp_xyxy(B.model_to_image_xyxy_px(dec.boxes_cxcywh[0].float().cpu().numpy(), W, H), W, H)
        scores = dec.scores[0].float().cpu().numpy()
        crops: list[CropResult] = []
        for aspect in request.aspects:
            fitted = boxes_px if aspect is None else np.stack(
                [B.fit_aspect_ratio(b, aspect, W, H)[0] for b in boxes_px]
            )
            keep = B.select_diverse(fitted, scores, max_iou=self.dedup_iou, k=request.k)
            for rank, idx in enumerate(keep, start=1):
                px = B.snap_to_pixels(fitted[idx], W, H, aspect)
                crops.append(
                    CropResult(
                        box=_int_tuple(px), score=float(np.clip(scores[idx], 0.0, 1.0)), rank=rank,
                        aspect=aspect, mode="clipcrop", output_size=request.output_size,
                    )
                )
        union = B.model_to_image_xyxy_px(grounding.union_cxcywh[0].float().cpu().numpy(), W, H)
        return Prediction(crops=crops, image_size=image.size, mode="clipcrop", region=_tuple(union))

    def _zeroshot_crops(
        self, image: LoadedImage, enc: Any, grounding: Any, cond: _Condition | None, request: CropRequest
    ) -> Prediction:
        W, H = image.size
        sal = compute_saliency(image.array)
        if cond is not None:
            union = B.model_to_image_xyxy_px(grounding.union_cxcywh[0].float().cpu().numpy(), W, H)
            keep = B.model_to_image_xyxy_px(
                grounding.boxes_cxcywh[0][grounding.mask[0]].float().cpu().numpy(), W, H
            ).reshape(-1, 4)
        else:
            keep = self._generic_detections(enc, W, H)
            union = B.union_box(keep) if len(keep) else salient_region(sal)
        region = B.clamp_xyxy(union, W, H)
        crops = self._compose(image, region, sal, B.clamp_xyxy(keep, W, H), request, "zeroshot")
        return Prediction(crops=crops, image_size=image.size, mode="zeroshot", region=_tuple(region))

    def _generic_detections(self, enc: Any, width: int, height: int, max_boxes: int = 3) -> np.ndarray:
        """Strongest detections of :data:`GENERIC_PROMPTS` above the threshold, ``[N ≤ 3, 4]`` px."""
        embeds, _ = self._embed_phrases(GENERIC_PROMPTS)
        logits = self.encoder.query_logits(enc, embeds[None].to(self.device, self.dtype))  # [1, P, W]
        prob = torch.sigmoid(logits[0].float()).amax(dim=-1).cpu().numpy()  # [P]
        boxes_px = B.model_to_image_xyxy_px(enc.boxes_cxcywh[0].float().cpu().numpy(), width, height)
        strong = np.flatnonzero(prob >= self.detection_threshold)
        if strong.size == 0:
            return np.zeros((0, 4))
        keep = B.select_diverse(boxes_px[strong], prob[strong], max_iou=0.5, k=max_boxes)
        return boxes_px[strong][keep]

    def _compose(
        self,
        image: LoadedImage,
        region: np.ndarray,
        sal: SaliencyMap,
        keep: np.ndarray,
        request: CropRequest,
        mode: str,
    ) -> list[CropResult]:
        W, H = image.size
        crops: list[CropResult] = []
        for aspect in request.aspects:
            ratio = W / H if aspect is None else aspect
            candidates = compose(
                image.size, region, aspect=ratio, k=request.k, saliency=sal, keep=keep,
                focus=request.focus, avoid=request.avoid, fit=request.fit,
                config=self.composer_config, image_rgb=image.array,
            )
            for rank, cand in enumerate(candidates, start=1):
                crops.append(_candidate_to_result(cand, rank, ratio, mode, request.output_size, W, H))
        return crops

    # ------------------------------------------------------------------ query embeddings

    def _image_condition(self, query_image: ImageInput) -> _Condition:
        """The one-shot query embedding of an example image, ``[1, C]`` (computed once per call)."""
        qimg = load_image(query_image, max_pixels=self.max_pixels)
        with torch.inference_mode():
            pixels = self.encoder.preprocess([qimg.array]).to(self.device, self.dtype)
            embeds = self.encoder.embed_image_queries(pixels)  # [1, C]
        return _Condition(embeds=embeds, phrases=("<query image>",), query=f"<image {qimg.source}>")

    def _text_condition(self, parsed: ParsedQuery | None) -> _Condition | None:
        if parsed is None:
            return None
        if self.query_parts == "text":
            phrases: tuple[str, ...] = (parsed.text,)
        elif self.query_parts == "keywords":
            phrases = parsed.keywords or (parsed.text,)
        else:
            phrases = parsed.phrases
        embeds, truncated = self._embed_phrases(phrases)
        return _Condition(embeds=embeds, phrases=phrases, truncated=truncated, query=parsed.text)

    def _embed_phrases(self, phrases: Sequence[str]) -> tuple[torch.Tensor, tuple[str, ...]]:
        """Text embeddings ``[len(phrases), C]`` and the phrases the text model truncated.

        The text encoder runs only on phrases not in the LRU cache (keyed by model and phrase).
        """
        missing = [p for p in dict.fromkeys(phrases) if self._text_cache.get((self.model_id, p)) is None]
        if missing:
            emb = self.encoder.embed_texts(missing)
            cut = set(emb.truncated)
            for p, e in zip(missing, emb.embeds):
                self._text_cache.put((self.model_id, p), (e.detach(), p in cut))
        rows = [self._text_cache.get((self.model_id, p)) for p in phrases]
        embeds = torch.stack([row[0] for row in rows])
        return embeds, tuple(p for p, row in zip(phrases, rows) if row[1])


# ---------------------------------------------------------------------- helpers


def _resolve_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"invalid device {device!r}: use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    return dev


def _broadcast_queries(queries: Sequence[str | None] | str | None, n: int) -> list[str | None]:
    if queries is None or isinstance(queries, str):
        return [queries] * n
    queries = list(queries)
    if len(queries) != n:
        raise ValueError(f"got {len(queries)} queries for {n} images")
    return queries


def _select(encoding: Any, b: int) -> Any:
    """The ImageEncoding of batch item ``b`` (a batch of one)."""
    return type(encoding)(
        tokens=encoding.tokens[b : b + 1],
        grid_hw=encoding.grid_hw,
        boxes_cxcywh=encoding.boxes_cxcywh[b : b + 1],
        class_embeds=encoding.class_embeds[b : b + 1],
    )


def _grounded_boxes(grounding: Any, cond: _Condition | None, size: tuple[int, int]) -> list[GroundedBox]:
    if cond is None or grounding.boxes_cxcywh.shape[1] == 0:
        return []
    px = B.model_to_image_xyxy_px(grounding.boxes_cxcywh[0].float().cpu().numpy(), *size)
    px = B.clamp_xyxy(px, *size)
    logits = grounding.logits[0].float().cpu().numpy()
    return [
        GroundedBox(phrase=p, box=_tuple(px[i]), logit=float(logits[i]))
        for i, p in enumerate(cond.phrases)
        if bool(grounding.mask[0, i])
    ]


def _candidate_to_result(
    cand: CropCandidate, rank: int, aspect: float, mode: str, output_size: tuple[int, int] | None,
    width: int, height: int,
) -> CropResult:
    if cand.padded:
        px = _round_padded(cand.box_xyxy_px, aspect)
    else:
        px = B.snap_to_pixels(cand.box_xyxy_px, width, height, aspect)
    return CropResult(
        box=_int_tuple(px), score=float(cand.score), rank=rank, aspect=aspect, mode=mode,
        fits=bool(cand.fits), padded=bool(cand.padded),
        pad_color=None if cand.pad_color is None else tuple(int(c) for c in cand.pad_color),
        output_size=output_size, terms=dict(cand.terms),
    )


def _round_padded(box: np.ndarray, aspect: float) -> np.ndarray:
    """Integer box of exact ``aspect`` (to 1 px) around a letterboxed crop that may leave the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w = max(round(x2 - x1), 1)
    h = max(round(w / aspect), 1)
    left, top = round((x1 + x2) / 2 - w / 2), round((y1 + y2) / 2 - h / 2)
    return np.array([left, top, left + w, top + h], dtype=np.int64)


def _int_tuple(px: np.ndarray) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in px)  # type: ignore[return-value]


def _tuple(box: np.ndarray) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in np.asarray(box).reshape(4))  # type: ignore[return-value]
