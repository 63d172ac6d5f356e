"""The one inference object shared by the CLI, the batch runner, the service, the Ray engine, the
evaluation harness and the Python API.

``Predictor`` decides device and dtype once, loads the model backends once (lazily, or eagerly
with :meth:`Predictor.load`; both thread-safe), caches query embeddings (text phrases and query
images, LRU keyed by model), and owns the pre- and post-processing. Three modes:

- ``clipcrop`` — a trained ClipCrop decoder regresses crops around the grounded region;
- ``zeroshot`` — OWL-ViT grounding gives the region, the training-free composer crops around it;
- ``offline`` — no weights at all: a saliency estimate gives the region, the composer crops.

``mode="auto"`` picks ``clipcrop`` when a decoder is given, ``zeroshot`` when the OWL-ViT weights
load, and ``offline`` when there is no query and no weights.

One Predictor may serve many threads at once: loading happens once under a lock, the caches are
locked, and a call keeps its intermediate results to itself. Nothing here imports torch until a
PyTorch model is loaded: the offline mode and the ONNX Runtime backend (whose outputs are NumPy
arrays, :mod:`promptcrop.arrays`) run without it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from promptcrop import arrays as A
from promptcrop import boxes as B
from promptcrop.composer import ComposerConfig, CropCandidate, compose
from promptcrop.config import DEFAULT_MODEL_ID, MODE_CHOICES
from promptcrop.deadline import Deadline, check_deadline
from promptcrop.errors import ModelUnavailableError, RequestError
from promptcrop.extras import MissingExtraError, require
from promptcrop.images import DEFAULT_MAX_PIXELS, LoadedImage, Preview, load_image, load_preview
from promptcrop.queries import DEFAULT_QUERY_PARTS, QUERY_PARTS, ParsedQuery, parse_query, query_phrases
from promptcrop.request import CropRequest, RequestLimits
from promptcrop.results import FREE_RATIO, CropResult, GroundedBox, Prediction, versions
from promptcrop.saliency import SaliencyMap, compute_saliency, corner_marks, salient_region

if TYPE_CHECKING:
    import torch

    from promptcrop.backends.base import Decoder, Encoder

DEFAULT_MODEL = DEFAULT_MODEL_ID
# Generic prompts whose strongest detections define the region when no query is given.
#: Long side (px) of the reduced decode the offline mode analyses (crops are cut from full pixels).
ANALYSIS_SIDE = 768
GENERIC_PROMPTS = ("a photo of a person", "a face", "an animal", "a vehicle", "a main object")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
# What Prediction.fallback says when a model output could not be used as it came.
FALLBACK_NO_GROUNDING = "no usable grounded box: crops around the unconditioned region"
FALLBACK_QUERY_IMAGE = "the query image gave no usable embedding: unconditioned crops"
FALLBACK_DECODER = "the decoder gave no usable crop: composed around its anchor box"

ImageInput = Any  # path, bytes, PIL image or array: anything images.load_image accepts


# ---------------------------------------------------------------------- caches


class _LRU:
    """A small thread-safe LRU dict (query embeddings keyed by model and phrase or image digest)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


@dataclass
class _Condition:
    """Query embeddings for one image: ``embeds [W, C]`` (the backend's array kind) and the phrase
    of each row."""

    embeds: Any
    phrases: tuple[str, ...]
    truncated: tuple[str, ...] = ()
    query: str | None = None
    query_image: str | None = None


# ---------------------------------------------------------------------- the predictor


class Predictor:
    """Crops images, optionally conditioned on a text query or a query image.

    Args:
        model: OWL-ViT hub id or local directory (``None`` = never load weights: offline only).
        decoder: a ClipCrop decoder checkpoint (directory or hub id); enables the ``clipcrop`` mode.
        mode: ``auto`` | ``clipcrop`` | ``zeroshot`` | ``offline`` (see the module docstring).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; decided once here.
        dtype: model dtype (a ``torch.dtype``); default float32 (bf16/fp16 only make sense on CUDA).
        local_files_only: never touch the network; load weights only from the local cache/dirs.
        query_parts: which query embeddings ground the query: ``both`` (full text + keywords, the
            paper's default), ``text`` (full text only) or ``keywords``; ``None`` = the choice
            recorded in the decoder checkpoint, else ``both``.
        composer: composition settings for the ``zeroshot`` and ``offline`` modes.
        max_pixels: images above this many pixels are refused.
        text_cache_size: query embeddings (phrases and query images) and parsed queries kept in memory.
        dedup_iou: crops of the same ratio overlap less than this (near-duplicate removal).
        detection_threshold: OWL-ViT probability above which a generic detection counts
            (unconditioned ``zeroshot``).
        batch_size: images per OWL-ViT forward in :meth:`predict_batch`.
        encoder: an already built encoder backend (:class:`~promptcrop.backends.base.Encoder`) to
            use instead of loading ``model`` — several predictors can share one copy of the weights.
        decoder_model: an already built decoder backend (:class:`~promptcrop.backends.base.Decoder`).
        backend: what runs the model forwards: ``torch`` (PyTorch, any device) or ``onnx`` (ONNX
            Runtime on the CPU, from ``onnx_dir``, a directory written by ``promptcrop
            export-onnx`` from the same ``model`` and ``decoder``; needs ``promptcrop[onnx]``).
        onnx_dir: the export directory of the ``onnx`` backend.
        limits: the bounds every request is checked against (:class:`RequestLimits`; default:
            its defaults, output canvases capped at ``max_pixels``).
    """

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        decoder: str | None = None,
        *,
        mode: str = "auto",
        device: str = "cpu",
        dtype: Any = None,
        local_files_only: bool = False,
        query_parts: str | None = None,
        composer: ComposerConfig | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        text_cache_size: int = 512,
        dedup_iou: float = 0.7,
        detection_threshold: float = 0.1,
        batch_size: int = 8,
        encoder: Encoder | None = None,
        decoder_model: Decoder | None = None,
        backend: str = "torch",
        onnx_dir: str | os.PathLike[str] | None = None,
        limits: RequestLimits | None = None,
    ) -> None:
        if encoder is not None:
            model = encoder.model_id
        has_decoder = decoder is not None or decoder_model is not None
        if mode not in MODE_CHOICES:
            raise RequestError(f"mode must be one of {', '.join(MODE_CHOICES)}, got {mode!r}")
        if query_parts is not None and query_parts not in QUERY_PARTS:
            raise RequestError(f"query_parts must be one of {', '.join(QUERY_PARTS)}, got {query_parts!r}")
        if mode == "clipcrop" and not has_decoder:
            raise RequestError("mode 'clipcrop' needs a decoder checkpoint (decoder=...)")
        if mode in ("clipcrop", "zeroshot") and model is None:
            raise RequestError(f"mode {mode!r} needs OWL-ViT weights (model=...)")
        if not 0.0 < dedup_iou <= 1.0:
            raise RequestError(f"dedup_iou must be in (0, 1], got {dedup_iou}")
        if batch_size < 1 or text_cache_size < 1 or max_pixels < 1:
            raise RequestError("batch_size, text_cache_size and max_pixels must be positive")
        self.model_id = model
        self.decoder_id = decoder if decoder is not None else (
            None if decoder_model is None else getattr(decoder_model, "source", "<decoder>"))
        self.mode = mode
        self.device = _check_device(device)
        self.backend, self.onnx_dir = _check_backend(backend, onnx_dir, self.device, dtype)
        self._dtype = dtype
        self.local_files_only = local_files_only
        self._query_parts = query_parts
        self.composer_config = composer or ComposerConfig()
        self.max_pixels = max_pixels
        self.limits = limits or RequestLimits(max_pixels=max_pixels)
        self.dedup_iou = dedup_iou
        self.detection_threshold = detection_threshold
        self.batch_size = batch_size
        self._cache = _LRU(text_cache_size)
        self._lock = threading.RLock()
        self._encoder: Encoder | None = None if encoder is None else self._place(encoder)
        self._encoder_error: ModelUnavailableError | None = None
        self._decoder: Decoder | None = None if decoder_model is None else self._place(decoder_model)
        self._checkpoint_query_parts: str | None = None

    @classmethod
    def for_options(
        cls,
        *,
        model: str | None = DEFAULT_MODEL,
        decoder: str | None = None,
        offline: bool = False,
        conditioned: bool = False,
        **kwargs: Any,
    ) -> Predictor:
        """The predictor a front end's options describe, with the rules every front end shares:

        - ``offline`` (no network) without a query or a decoder: the weight-free offline mode;
        - ``offline`` with a query or a decoder: weights from the local cache or directory only;
        - ``conditioned`` (some input has a query) or a decoder: the weights are loaded now, so a
          missing model is one error before any input, not one error per input.

        Raises :class:`RequestError`, :class:`ModelUnavailableError`, :class:`CheckpointError`.
        """
        weight_free = offline and not conditioned and decoder is None
        predictor = cls(
            model=None if weight_free else model, decoder=decoder,
            mode="offline" if weight_free else "auto", local_files_only=offline, **kwargs,
        )
        if conditioned or decoder is not None:
            try:
                predictor.load()
            except MissingExtraError:
                raise
            except ModelUnavailableError as exc:
                raise ModelUnavailableError(f"{exc} (a text or image query needs the OWL-ViT weights)") from None
        return predictor

    # ------------------------------------------------------------------ loading

    def load(self) -> Predictor:
        """Load every model this predictor is configured with, now and once (thread-safe).

        Raises :class:`ModelUnavailableError` / :class:`CheckpointError`; a predictor without a
        model (offline only) loads nothing.
        """
        if self.model_id is not None:
            self.encoder  # noqa: B018 - loads it
        if self.decoder_id is not None:
            self.decoder_model  # noqa: B018 - loads it
        return self

    @property
    def dtype(self) -> torch.dtype:
        """The models' dtype (float32 unless asked otherwise)."""
        import torch

        return self._dtype or torch.float32

    @property
    def encoder(self) -> Encoder:
        """The OWL-ViT encoder, loaded on first use (raises ModelUnavailableError)."""
        encoder = self._encoder
        if encoder is not None:
            return encoder
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load_encoder()
            return self._encoder

    def _load_encoder(self) -> Encoder:
        if self.model_id is None:
            raise ModelUnavailableError("no OWL-ViT model configured (model=None): only the offline mode runs")
        if self._encoder_error is not None:
            raise self._encoder_error
        if self.backend == "onnx":
            return self._load_onnx()
        try:
            for module in TORCH_BACKEND_MODULES:
                require(module, "text and image queries need")
            from promptcrop.model.encoder import OwlViTEncoder

            encoder = OwlViTEncoder.from_pretrained(self.model_id, local_files_only=self.local_files_only)
        except ModelUnavailableError as exc:
            self._encoder_error = exc
            raise
        return self._place(encoder)

    @property
    def decoder_model(self) -> Decoder:
        """The ClipCrop decoder, loaded on first use (with the encoder it was trained for)."""
        decoder = self._decoder
        if decoder is not None:
            return decoder
        with self._lock:
            if self._decoder is None and self.backend == "onnx":
                self.encoder  # noqa: B018 - the ONNX encoder and decoder load together
            if self._decoder is None:
                require("safetensors", "a ClipCrop decoder on the torch backend needs")
                from promptcrop.model.checkpoint import load_decoder

                loaded, info = load_decoder(self.decoder_id, expected_encoder=self.encoder, device=self.device)
                self._checkpoint_query_parts = info.query_parts
                self._decoder = self._place(loaded)
            return self._decoder

    def _load_onnx(self) -> Encoder:
        """The ONNX encoder, and the decoder when one is configured, from ``onnx_dir`` (refused
        when exported from another model or decoder)."""
        from promptcrop.backends.onnx import load_onnx_backend

        encoder, decoder = load_onnx_backend(self.onnx_dir, model=self.model_id, decoder=self.decoder_id)
        if decoder is not None and self._decoder is None:
            self._checkpoint_query_parts = decoder.query_parts
            self._decoder = decoder
        return encoder

    def _place(self, backend: Any) -> Any:
        """A backend moved to this predictor's device and dtype (when it can move)."""
        mover = getattr(backend, "to", None)
        if mover is None:
            return backend
        return mover(device=self.device, dtype=self.dtype if self.backend == "torch" else self._dtype)

    @property
    def loaded_encoder(self) -> Encoder | None:
        """The OWL-ViT encoder if already loaded (to share with another Predictor), else None."""
        return self._encoder

    @property
    def query_parts(self) -> str:
        """The query parts in use: the explicit choice, else the decoder checkpoint's, else ``both``."""
        if self._query_parts is not None:
            return self._query_parts
        if self.decoder_id is not None:
            self.decoder_model  # noqa: B018 - the checkpoint records the choice it was trained with
        return self._checkpoint_query_parts or DEFAULT_QUERY_PARTS

    def weights_available(self) -> bool:
        """True when the OWL-ViT weights load (tries once, then remembers)."""
        try:
            self.encoder  # noqa: B018 - loads it
        except ModelUnavailableError:
            return False
        return True

    @property
    def queries_available(self) -> bool:
        """True when text and image queries can run (the OWL-ViT weights load)."""
        return self.mode != "offline" and self.model_id is not None and self.weights_available()

    def resolve_mode(self, has_condition: bool) -> str:
        """The mode a call runs in, per the ``auto`` rules; raises a clear error when impossible."""
        if self.mode == "offline":
            if has_condition:
                raise ModelUnavailableError(
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

    def versions(self, mode: str) -> dict[str, Any]:
        """promptcrop's version and the weights a prediction in ``mode`` used."""
        return versions(self.model_id, self.decoder_id, mode)

    def info(self) -> dict[str, Any]:
        """What this predictor can do: modes, model and decoder ids, device, limits."""
        queries = self.queries_available
        modes = ["offline"] + (["zeroshot"] if queries else []) + (
            ["clipcrop"] if queries and self.decoder_id is not None else [])
        return {
            "mode": self.mode, "modes": modes, "queries_available": queries,
            "model": self.model_id if queries else None, "decoder": self.decoder_id if queries else None,
            "device": self.device, "backend": self.backend, "max_pixels": self.max_pixels,
            "versions": self.versions("clipcrop"),
        }

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
        exclude: str | Sequence[str] = (),
        deadline: Deadline | None = None,
    ) -> Prediction:
        """Crop one image. See :meth:`predict_batch` for the arguments; returns one Prediction."""
        request = CropRequest.build(k=k, aspect=aspect, size=size, fit=fit, focus=focus, avoid=avoid,
                                    exclude=exclude)
        return self.predict_batch([image], [query], query_image=query_image, request=request,
                                  deadline=deadline)[0]

    def predict_batch(
        self,
        images: Sequence[ImageInput],
        queries: Sequence[str | None] | str | None = None,
        *,
        query_image: ImageInput | None = None,
        request: CropRequest | Sequence[CropRequest] | None = None,
        deadline: Deadline | None = None,
        **request_kwargs: Any,
    ) -> list[Prediction]:
        """Crop several images; the OWL-ViT forward runs in batches of ``batch_size``.

        Args:
            images: paths, bytes, PIL images or ``[H, W, 3]`` arrays.
            queries: one text query per image, or one for all, or None (unconditioned).
            query_image: an example image of what to keep (one-shot), instead of a text query;
                its embedding is cached like a phrase's.
            request: one :class:`CropRequest` for all images or one per image, or the arguments
                of :meth:`CropRequest.build` as keywords (``k``, ``aspect``, ``size``, ``fit``,
                ``focus``, ``avoid``, ``exclude``); each is checked against :attr:`limits`.
            deadline: stop with :class:`~promptcrop.errors.DeadlineExceeded` at the first stage
                boundary past it (:mod:`promptcrop.deadline`); ``None``: no limit.
        Returns:
            one :class:`Prediction` per image, crops as xyxy int pixels of the upright image.
        """
        requests = _broadcast_requests(request, request_kwargs, len(images))
        for req in requests:
            self.limits.check(req)
        query_list = _broadcast_queries(queries, len(images))
        for query in query_list:
            self.limits.check_query(query)
        if query_image is not None and any(q is not None for q in query_list):
            raise RequestError("give a text query or a query image, not both")
        parsed = [self._parse_query(q) for q in query_list]
        modes = [self.resolve_mode(p is not None or query_image is not None) for p in parsed]
        for mode, req in zip(modes, requests):
            if mode == "offline" and req.exclude:
                raise ModelUnavailableError(
                    "exclude needs the OWL-ViT weights to find what to leave out; the weight-free "
                    "offline mode cannot ground text"
                )
        check_deadline(deadline, "decode")
        t0 = time.perf_counter()
        # The offline mode analyses a reduced decode (JPEG draft mode); crops are in full pixels.
        loaded: list[LoadedImage | Preview] = [
            load_preview(img, max_side=ANALYSIS_SIDE, max_pixels=self.max_pixels) if mode == "offline"
            else load_image(img, max_pixels=self.max_pixels)
            for img, mode in zip(images, modes)
        ]
        load_s = (time.perf_counter() - t0) / max(len(images), 1)
        results: list[Prediction | None] = [None] * len(images)
        model_idx = [i for i, m in enumerate(modes) if m != "offline"]
        for i, m in enumerate(modes):
            if m == "offline":
                results[i] = self._predict_offline(loaded[i], requests[i], deadline)
        image_condition = self._image_condition(query_image) if query_image is not None and model_idx else None
        for start in range(0, len(model_idx), self.batch_size):
            chunk = model_idx[start : start + self.batch_size]
            preds = self._predict_with_model(
                [loaded[i] for i in chunk], [parsed[i] for i in chunk], image_condition,
                [modes[i] for i in chunk], [requests[i] for i in chunk], deadline,
            )
            for i, pred in zip(chunk, preds):
                results[i] = pred
        for pred, image in zip(results, loaded):
            assert pred is not None  # every index was filled above
            pred.timings["load"] = load_s
            pred.exif_orientation = (image.image if isinstance(image, Preview) else image).exif_orientation
            pred.versions = self.versions(pred.mode)
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ modes

    def _predict_offline(self, preview: Preview, request: CropRequest, deadline: Deadline | None) -> Prediction:
        check_deadline(deadline, "ground")
        t0 = time.perf_counter()
        sal = compute_saliency(preview.image.array, image_size=preview.full_size)
        region = salient_region(sal)
        marks = corner_marks(preview.image.array, image_size=preview.full_size)
        t1 = time.perf_counter()
        check_deadline(deadline, "compose")
        crops = self._compose(preview.image, region, sal, np.zeros((0, 4)), request, "offline",
                              size=preview.full_size, marks=marks)
        t2 = time.perf_counter()
        return Prediction(
            crops=crops, image_size=preview.full_size, mode="offline", region=_tuple(region),
            timings={"saliency": t1 - t0, "compose": t2 - t1},
        )

    def _predict_with_model(
        self,
        images: list[LoadedImage],
        parsed: list[ParsedQuery | None],
        image_condition: _Condition | None,
        modes: list[str],
        requests: list[CropRequest],
        deadline: Deadline | None,
    ) -> list[Prediction]:
        from promptcrop.model.grounding import ground, unconditioned

        encoder = self.encoder
        with A.no_grad(encoder):
            check_deadline(deadline, "encode")
            t0 = time.perf_counter()
            pixel_values = encoder.preprocess([im.array for im in images])
            t1 = time.perf_counter()
            encoding = encoder.encode_images(pixel_values)
            t2 = time.perf_counter()
            per_image_prep = (t1 - t0) / len(images)
            per_image_enc = (t2 - t1) / len(images)
            out: list[Prediction] = []
            for b, (image, pq, mode, request) in enumerate(zip(images, parsed, modes, requests)):
                enc_b = _select(encoding, b)
                check_deadline(deadline, "text")
                if request.exclude:
                    request = replace(request, avoid=np.concatenate(
                        [request.avoid, self._exclude_boxes(enc_b, request.exclude, *image.size)]))
                t3 = time.perf_counter()
                cond = image_condition or self._text_condition(pq)
                t4 = time.perf_counter()
                notes: list[str] = []
                check_deadline(deadline, "ground")
                if cond is not None and cond.embeds is not None:
                    logits = encoder.query_logits(enc_b, cond.embeds[None])
                    logits = A.nan_to_num(logits, nan=-1e4, posinf=1e4, neginf=-1e4)
                    grounding = self._repair_grounding(ground(enc_b, logits), image.size, notes)
                else:
                    if cond is not None:
                        notes.append(FALLBACK_QUERY_IMAGE)
                    grounding = unconditioned(enc_b)
                t5 = time.perf_counter()
                check_deadline(deadline, "compose")
                if mode == "clipcrop":
                    pred = self._clipcrop_crops(image, enc_b, grounding, request, notes)
                else:
                    pred = self._zeroshot_crops(image, enc_b, grounding, cond, request, notes)
                t6 = time.perf_counter()
                pred.grounding = _grounded_boxes(grounding, cond, image.size)
                pred.fallback = "; ".join(notes) or None
                if cond is not None:
                    pred.query, pred.phrases, pred.truncated = cond.query, cond.phrases, cond.truncated
                    pred.query_image = cond.query_image
                pred.timings.update(
                    {"preprocess": per_image_prep, "encode": per_image_enc, "text": t4 - t3,
                     "ground": t5 - t4, "crop": t6 - t5}
                )
                out.append(pred)
        return out

    def _clipcrop_crops(
        self, image: LoadedImage, enc: Any, grounding: Any, request: CropRequest, notes: list[str]
    ) -> Prediction:
        dec = self.decoder_model.decode(enc, grounding)
        W, H = image.size
        union = B.model_to_image_xyxy_px(A.to_numpy(grounding.union_cxcywh[0]), W, H)
        boxes_px, ok = B.repair_xyxy_px(B.model_to_image_xyxy_px(A.to_numpy(dec.boxes_cxcywh[0]), W, H), W, H)
        scores = np.clip(np.nan_to_num(A.to_numpy(dec.scores[0]), nan=0.0), 0.0, 1.0)
        if not ok.any():  # nothing usable from the decoder: compose around its anchor instead
            notes.append(FALLBACK_DECODER)
            region = B.clamp_xyxy(union, W, H)
            keep = _valid_boxes_px(grounding, W, H)
            crops = self._compose(image, region, compute_saliency(image.array), keep, request, "clipcrop")
            return Prediction(crops=crops, image_size=image.size, mode="clipcrop", region=_tuple(region))
        boxes_px, scores = boxes_px[ok], scores[ok]
        crops: list[CropResult] = []
        for aspect in request.aspects:
            ratio = aspect.value
            fitted = boxes_px if ratio is None else np.stack(
                [B.fit_aspect_ratio(b, ratio, W, H)[0] for b in boxes_px]
            )
            label = FREE_RATIO if ratio is None else aspect.label
            ranked = scores
            if len(request.avoid):  # boxes holding an avoid region rank lower, by the share held
                ranked = scores * (1.0 - B.box_coverage(fitted, request.avoid).max(axis=-1))
            keep_idx = B.select_diverse(fitted, ranked, max_iou=self.dedup_iou, k=request.k)
            for rank, idx in enumerate(keep_idx, start=1):
                px = B.snap_to_pixels(fitted[idx], W, H, ratio)
                crops.append(
                    CropResult(
                        box=_int_tuple(px), score=float(ranked[idx]), rank=rank,
                        aspect=ratio, mode="clipcrop", output_size=request.output_size, ratio=label,
                    )
                )
        return Prediction(crops=crops, image_size=image.size, mode="clipcrop", region=_tuple(union))

    def _zeroshot_crops(
        self, image: LoadedImage, enc: Any, grounding: Any, cond: _Condition | None, request: CropRequest,
        notes: list[str],
    ) -> Prediction:
        W, H = image.size
        # Faces are kept whole when nothing better says what matters; a query does.
        sal = compute_saliency(image.array, faces="auto" if cond is None else np.zeros((0, 4)))
        keep = _valid_boxes_px(grounding, W, H) if cond is not None else self._generic_detections(enc, W, H)
        union = B.union_box(keep) if len(keep) else salient_region(sal)
        region = B.clamp_xyxy(union, W, H)
        # Without a query, corner watermarks and text are left out when a crop can; a query says
        # itself what to keep and what to leave out.
        marks = corner_marks(image.array) if cond is None else np.zeros((0, 4))
        crops = self._compose(image, region, sal, keep, request, "zeroshot", marks=marks)
        return Prediction(crops=crops, image_size=image.size, mode="zeroshot", region=_tuple(region))

    def _exclude_boxes(self, enc: Any, phrases: Sequence[str], width: int, height: int) -> np.ndarray:
        """Where OWL-ViT grounds each phrase to leave out: ``[≤ len(phrases), 4]`` xyxy px
        (checked like any model output; unusable boxes dropped)."""
        from promptcrop.model.grounding import ground

        embeds, _ = self._embed_phrases(tuple(phrases))
        logits = self.encoder.query_logits(enc, embeds[None])  # [1, P, Q]
        grounding = ground(enc, logits)
        raw = B.model_to_image_xyxy_px(A.to_numpy(grounding.boxes_cxcywh[0]), width, height)
        fixed, ok = B.repair_xyxy_px(raw, width, height)
        return fixed[ok].reshape(-1, 4)

    def _repair_grounding(self, grounding: Any, size: tuple[int, int], notes: list[str]) -> Any:
        """Grounded boxes checked like any model output (:func:`promptcrop.boxes.repair_xyxy_px`):
        degenerate ones widened, unusable ones dropped; ``notes`` says what changed."""
        from promptcrop.model.grounding import with_boxes

        W, H = size
        raw = B.model_to_image_xyxy_px(A.to_numpy(grounding.boxes_cxcywh[0]), W, H)
        fixed, ok = B.repair_xyxy_px(raw, W, H)
        selected = A.to_numpy(grounding.mask[0])
        ok &= selected
        same = np.isclose(np.nan_to_num(raw, nan=-1.0), fixed, atol=1e-3).all(axis=-1)
        if (ok == selected).all() and same[ok].all():
            return grounding
        notes.append(FALLBACK_NO_GROUNDING if not ok.any() else
                     f"repaired {int((~same | ~ok)[selected].sum())} of {int(selected.sum())} grounded boxes")
        fixed_cxcywh = B.image_xyxy_px_to_model(fixed, W, H)
        return with_boxes(grounding, fixed_cxcywh[None], ok[None])

    def _generic_detections(self, enc: Any, width: int, height: int, max_boxes: int = 3) -> np.ndarray:
        """Strongest detections of :data:`GENERIC_PROMPTS` above the threshold, ``[N ≤ 3, 4]`` px."""
        embeds, _ = self._embed_phrases(GENERIC_PROMPTS)
        logits = self.encoder.query_logits(enc, embeds[None])  # [1, P, W]
        prob = A.to_numpy(A.sigmoid(logits[0])).max(axis=-1)  # [P]
        boxes_px, ok = B.repair_xyxy_px(
            B.model_to_image_xyxy_px(A.to_numpy(enc.boxes_cxcywh[0]), width, height), width, height)
        strong = np.flatnonzero((np.nan_to_num(prob, nan=0.0) >= self.detection_threshold) & ok)
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
        size: tuple[int, int] | None = None,
        marks: np.ndarray | None = None,
    ) -> list[CropResult]:
        """Composer crops per requested ratio; ``size``: ``(W, H)`` of the full image when
        ``image`` is a reduced copy of it (boxes are in full pixels); ``marks``: ``[M, 4]`` corner
        watermarks to leave out when a crop can (:func:`promptcrop.saliency.corner_marks`)."""
        W, H = size or image.size
        config = self.composer_config
        if mode != "offline":  # the region was grounded: a diffuse map says nothing about it
            config = replace(config, centred_weight=0.0)
        crops: list[CropResult] = []
        for aspect in request.aspects:
            ratio = W / H if aspect.value is None else aspect.value
            candidates = compose(
                (W, H), region, aspect=ratio, k=request.k, saliency=sal, keep=keep,
                focus=request.focus, avoid=request.avoid, fit=request.fit,
                config=config, image_rgb=image.array,
                marks=() if marks is None else marks,
            )
            for rank, cand in enumerate(candidates, start=1):
                crop = _candidate_to_result(cand, rank, ratio, aspect.label, mode, request.output_size, W, H)
                if crop.padded:  # the canvas a padded crop is cut into
                    self.limits.check_canvas("fit", crop.width, crop.height)
                crops.append(crop)
        return crops

    # ------------------------------------------------------------------ query embeddings

    def _image_condition(self, query_image: ImageInput) -> _Condition:
        """The one-shot query embedding of an example image, ``[1, C]`` (cached by content);
        ``embeds`` is None when the model gives no usable (finite) embedding for it."""
        from promptcrop.errors import InternalError

        qimg = load_image(query_image, max_pixels=self.max_pixels)
        digest = hashlib.sha1(np.ascontiguousarray(qimg.array).tobytes()).hexdigest()
        key = (self.model_id, "image", qimg.array.shape, digest)
        embeds = self._cache.get(key)
        if embeds is None:
            with A.no_grad(self.encoder):
                pixels = self.encoder.preprocess([qimg.array])
                try:
                    embeds = self.encoder.embed_image_queries(pixels)  # [1, C]
                except InternalError:  # OWL-ViT found no query box (non-finite outputs)
                    embeds = None
            if embeds is None or not A.all_finite(embeds):
                embeds = False  # remembered: this image gives no usable embedding
            self._cache.put(key, embeds)
        return _Condition(embeds=None if embeds is False else embeds, phrases=("<query image>",),
                          query=f"<image {qimg.source}>", query_image=qimg.source)

    def _parse_query(self, query: str | None) -> ParsedQuery | None:
        """:func:`~promptcrop.queries.parse_query`, remembered per query text: parsing (spaCy when
        installed) costs a few milliseconds a call, and the same queries come back."""
        if query is None:
            return None
        key = ("parse", query)
        parsed = self._cache.get(key)
        if parsed is None:
            parsed = parse_query(query)
            self._cache.put(key, parsed)
        return parsed

    def _text_condition(self, parsed: ParsedQuery | None) -> _Condition | None:
        if parsed is None:
            return None
        phrases = query_phrases(parsed, self.query_parts)
        embeds, truncated = self._embed_phrases(phrases)
        return _Condition(embeds=embeds, phrases=phrases, truncated=truncated, query=parsed.text)

    def _embed_phrases(self, phrases: Sequence[str]) -> tuple[Any, tuple[str, ...]]:
        """Text embeddings ``[len(phrases), C]`` and the phrases the text model truncated.

        The text encoder runs only on phrases not in the cache; this call's rows are kept in a
        local table, so a cache smaller than one call's phrases (or another thread evicting
        entries meanwhile) cannot lose a row between filling and reading.
        """
        rows: dict[str, tuple[Any, bool]] = {}
        for phrase in dict.fromkeys(phrases):
            hit = self._cache.get((self.model_id, "text", phrase))
            if hit is not None:
                rows[phrase] = hit
        missing = [p for p in dict.fromkeys(phrases) if p not in rows]
        if missing:
            emb = self.encoder.embed_texts(missing)
            cut = set(emb.truncated)
            for phrase, vector in zip(missing, emb.embeds):
                rows[phrase] = (A.detach(vector), phrase in cut)
                self._cache.put((self.model_id, "text", phrase), rows[phrase])
        embeds = A.stack([rows[p][0] for p in phrases])
        return embeds, tuple(p for p in phrases if rows[p][1])


# ---------------------------------------------------------------------- helpers


BACKENDS = ("torch", "onnx")
TORCH_BACKEND_MODULES = ("torch", "transformers")
"""What the torch backend imports to load OWL-ViT (the ``torch`` extra)."""


def _check_backend(backend: str, onnx_dir: Any, device: str, dtype: Any) -> tuple[str, str | None]:
    """``(backend, onnx_dir)`` validated: the ONNX backend needs its directory, the CPU, float32."""
    if backend not in BACKENDS:
        raise RequestError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "onnx":
        if onnx_dir is not None:
            raise RequestError("an ONNX directory is only used by the onnx backend")
        return backend, None
    if onnx_dir is None:
        raise RequestError("the onnx backend needs the directory written by `promptcrop export-onnx`")
    if device != "cpu" or (dtype is not None and str(dtype) != "torch.float32"):
        raise RequestError(
            "the onnx backend runs on the CPU in float32; use the torch backend for other devices or dtypes"
        )
    return backend, os.fspath(onnx_dir)


def _check_device(device: str) -> str:
    """A device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``); CUDA must exist when asked for."""
    if not isinstance(device, str) or not _DEVICE.match(device.strip().lower()):
        raise RequestError(f"invalid device {device!r}: use cpu, cuda or cuda:N")
    device = device.strip().lower()
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RequestError(f"device {device!r} requested but CUDA is not available here; use the CPU")
    return device


def _broadcast_queries(queries: Sequence[str | None] | str | None, n: int) -> list[str | None]:
    if queries is None or isinstance(queries, str):
        return [queries] * n
    queries = list(queries)
    if len(queries) != n:
        raise RequestError(f"got {len(queries)} queries for {n} images")
    return queries


def _broadcast_requests(
    request: CropRequest | Sequence[CropRequest] | None, kwargs: dict[str, Any], n: int
) -> list[CropRequest]:
    if request is None:
        return [CropRequest.build(**kwargs)] * n
    if kwargs:
        raise RequestError("pass either request= or its keyword arguments, not both")
    if isinstance(request, CropRequest):
        return [request] * n
    requests = list(request)
    if len(requests) != n or not all(isinstance(r, CropRequest) for r in requests):
        raise RequestError(f"got {len(requests)} requests for {n} images")
    return requests


def _select(encoding: Any, b: int) -> Any:
    """The ImageEncoding of batch item ``b`` (a batch of one)."""
    return type(encoding)(
        tokens=encoding.tokens[b : b + 1],
        grid_hw=encoding.grid_hw,
        boxes_cxcywh=encoding.boxes_cxcywh[b : b + 1],
        class_embeds=encoding.class_embeds[b : b + 1],
    )


def _valid_boxes_px(grounding: Any, width: int, height: int) -> np.ndarray:
    """The valid grounded boxes as xyxy pixels, ``[N, 4]`` (N may be 0)."""
    boxes = A.to_numpy(grounding.boxes_cxcywh[0])[A.to_numpy(grounding.mask[0])]
    return B.clamp_xyxy(B.model_to_image_xyxy_px(boxes, width, height).reshape(-1, 4), width, height)


def _grounded_boxes(grounding: Any, cond: _Condition | None, size: tuple[int, int]) -> list[GroundedBox]:
    if cond is None or grounding.boxes_cxcywh.shape[1] == 0:
        return []
    px = B.model_to_image_xyxy_px(A.to_numpy(grounding.boxes_cxcywh[0]), *size)
    px = B.clamp_xyxy(px, *size)
    logits = A.to_numpy(grounding.logits[0])
    return [
        GroundedBox(phrase=p, box=_tuple(px[i]), logit=float(logits[i]))
        for i, p in enumerate(cond.phrases)
        if bool(grounding.mask[0, i])
    ]


def _candidate_to_result(
    cand: CropCandidate, rank: int, aspect: float, label: str, mode: str,
    output_size: tuple[int, int] | None, width: int, height: int,
) -> CropResult:
    if cand.padded:
        px = _round_padded(cand.box_xyxy_px, aspect)
    else:
        px = B.snap_to_pixels(cand.box_xyxy_px, width, height, aspect)
    return CropResult(
        box=_int_tuple(px), score=float(np.clip(np.nan_to_num(cand.score), 0.0, 1.0)), rank=rank,
        aspect=aspect, mode=mode,
        fits=bool(cand.fits), padded=bool(cand.padded),
        pad_color=None if cand.pad_color is None else tuple(int(c) for c in cand.pad_color),
        output_size=output_size, terms=dict(cand.terms), ratio=label,
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
