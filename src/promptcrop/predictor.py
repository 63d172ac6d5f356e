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

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from promptcrop import arrays as A
from promptcrop import boxes as B
from promptcrop.candidates import (
    FALLBACK_QUERY_IMAGE,
    NO_BOXES,
    Candidates,
    clipcrop_candidates,
    grounded_boxes,
    offline_candidates,
    repair_grounding,
    select_item,
    valid_boxes_px,
    zeroshot_candidates,
)
from promptcrop.composer import ComposerConfig
from promptcrop.deadline import Deadline, check_deadline
from promptcrop.defaults import DEFAULT_MODEL_ID, MODE_CHOICES
from promptcrop.errors import ModelUnavailableError, RequestError
from promptcrop.extras import MissingExtraError, require
from promptcrop.images import DEFAULT_MAX_PIXELS, LoadedImage, Preview, load_image, load_preview
from promptcrop.options import PredictorOptions, check_backend, check_device, weight_free
from promptcrop.postprocess import DEDUP_IOU, Explanation, apply_request, build_prediction
from promptcrop.queries import DEFAULT_QUERY_PARTS, QUERY_PARTS, ParsedQuery, parse_query, query_phrases
from promptcrop.request import EXCLUDE_NEEDS_WEIGHTS, CropRequest, RequestLimits, check_condition
from promptcrop.results import Prediction, versions
from promptcrop.saliency import warm_up_detectors

if TYPE_CHECKING:
    import torch

    from promptcrop.backends.base import Decoder, Encoder

DEFAULT_MODEL = DEFAULT_MODEL_ID
#: Long side (px) of the reduced decode the offline mode analyses (crops are cut from full pixels).
ANALYSIS_SIDE = 768
# Generic prompts whose strongest detections define the region when no query is given.
GENERIC_PROMPTS = ("a photo of a person", "a face", "an animal", "a vehicle", "a main object")
#: At most this many generic detections make the unconditioned region, pairwise below this IoU.
MAX_GENERIC_BOXES = 3
GENERIC_DEDUP_IOU = 0.5
#: Logit given to non-finite query logits (NaN / ±inf) so grounding can rank them.
LOGIT_BOUND = 1e4
TORCH_BACKEND_MODULES = ("torch", "transformers")
"""What the torch backend imports to load OWL-ViT (the ``torch`` extra)."""

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
        dedup_iou: crops of the same ratio overlap less than this
            (:data:`promptcrop.postprocess.DEDUP_IOU`, the one dedup rule of every mode).
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
        dedup_iou: float = DEDUP_IOU,
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
        self.device = check_device(device)
        self.backend, self.onnx_dir = check_backend(backend, onnx_dir, self.device, dtype)
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
        if model is None:  # offline only: the detectors load while the caller goes on
            warm_up_detectors()

    @classmethod
    def from_options(cls, options: PredictorOptions, *, conditioned: bool = False, **kwargs: Any) -> Predictor:
        """The predictor ``options`` describe, with the rules every front end shares:

        - ``offline`` (no network) without a query or a decoder: the weight-free offline mode;
        - ``offline`` with a query or a decoder: weights from the local cache or directory only;
        - ``conditioned`` (some input has a query or an exclude) or a decoder: the weights are
          loaded now, so a missing model is one error before any input, not one per input.

        ``kwargs``: other :class:`Predictor` arguments (``query_parts``, ``composer``...).
        Raises :class:`RequestError`, :class:`ModelUnavailableError`, :class:`CheckpointError`.
        """
        free = weight_free(offline=options.offline, decoder=options.decoder, conditioned=conditioned)
        predictor = cls(
            model=None if free else options.model, decoder=options.decoder,
            mode="offline" if free else "auto", local_files_only=options.offline,
            **options.predictor_kwargs(), **kwargs,
        )
        if conditioned or options.decoder is not None:
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
        motion: Sequence[np.ndarray | None] | None = None,
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
            motion: per image, what moved in it as a video frame (float ``[mh, mw]`` over the whole
                image, or None; :func:`promptcrop.reframe.motion.motion_map`): a cue of the offline
                mode, which the query modes do not read; ``None``: none for any image.
        Returns:
            one :class:`Prediction` per image, crops as xyxy int pixels of the upright image.
        """
        requests = _broadcast_requests(request, request_kwargs, len(images))
        motions = list(motion) if motion is not None else [None] * len(images)
        if len(motions) != len(images):
            raise ValueError(f"motion must give one map (or None) per image: {len(motions)} for {len(images)}")
        for req in requests:
            self.limits.check(req)
        query_list = _broadcast_queries(queries, len(images))
        for query in query_list:
            self.limits.check_query(query)
        check_condition(query_list, query_image)
        parsed = [self._parse_query(q) for q in query_list]
        modes = [self.resolve_mode(p is not None or query_image is not None) for p in parsed]
        if any(mode == "offline" and req.exclude for mode, req in zip(modes, requests)):
            raise ModelUnavailableError(f"{EXCLUDE_NEEDS_WEIGHTS}; the weight-free offline mode cannot ground text")
        check_deadline(deadline, "decode")
        t0 = time.perf_counter()
        # The offline mode analyses a reduced decode (JPEG draft mode); crops are in full pixels.
        loaded: list[LoadedImage | Preview] = [
            load_preview(img, max_side=ANALYSIS_SIDE, max_pixels=self.max_pixels) if mode == "offline"
            else load_image(img, max_pixels=self.max_pixels)
            for img, mode in zip(images, modes)
        ]
        load_s = (time.perf_counter() - t0) / max(len(images), 1)
        found: list[Candidates | None] = [None] * len(images)
        model_idx = [i for i, m in enumerate(modes) if m != "offline"]
        for i in set(range(len(images))) - set(model_idx):
            found[i] = self._offline(loaded[i], requests[i], deadline, motions[i])  # type: ignore[arg-type]
        image_condition = self._image_condition(query_image) if query_image is not None and model_idx else None
        for start in range(0, len(model_idx), self.batch_size):
            chunk = model_idx[start : start + self.batch_size]
            batch = self._with_model(
                [loaded[i] for i in chunk], [parsed[i] for i in chunk], image_condition,  # type: ignore[misc]
                [modes[i] for i in chunk], [requests[i] for i in chunk], deadline,
            )
            for i, candidates in zip(chunk, batch):
                found[i] = candidates
        check_deadline(deadline, "compose")
        return [self._finish(c, im, load_s) for c, im in zip(found, loaded)]  # type: ignore[arg-type]

    def _finish(self, found: Candidates, image: LoadedImage | Preview, load_s: float) -> Prediction:
        """The request applied to the candidates (:mod:`promptcrop.postprocess`) and the one
        Prediction built."""
        t0 = time.perf_counter()
        crops = apply_request(
            found.source, found.request, image_size=found.image_size, image_rgb=found.image_rgb, mode=found.mode,
            limits=self.limits, dedup_iou=self.dedup_iou,
        )
        stage = "compose" if found.mode == "offline" else "crop"
        timings = {"load": load_s, **found.timings}
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0
        upright = image.image if isinstance(image, Preview) else image
        return build_prediction(
            crops, image_size=found.image_size, mode=found.mode, region=found.region,
            explanation=found.explanation, timings=timings, exif_orientation=upright.exif_orientation,
            versions=self.versions(found.mode), faces=found.faces,
        )

    # ------------------------------------------------------------------ modes

    def _offline(self, preview: Preview, request: CropRequest, deadline: Deadline | None,
                 motion: np.ndarray | None = None) -> Candidates:
        check_deadline(deadline, "ground")
        t0 = time.perf_counter()
        source, region, faces = offline_candidates(preview.image.array, preview.full_size, request,
                                                   self.composer_config, motion)
        return Candidates(mode="offline", request=request, source=source, region=region, image_size=preview.full_size,
                          image_rgb=preview.image.array, timings={"saliency": time.perf_counter() - t0}, faces=faces)

    def _with_model(
        self,
        images: list[LoadedImage],
        parsed: list[ParsedQuery | None],
        image_condition: _Condition | None,
        modes: list[str],
        requests: list[CropRequest],
        deadline: Deadline | None,
    ) -> list[Candidates]:
        encoder = self.encoder
        with A.no_grad(encoder):
            check_deadline(deadline, "encode")
            t0 = time.perf_counter()
            pixel_values = encoder.preprocess([im.array for im in images])
            t1 = time.perf_counter()
            encoding = encoder.encode_images(pixel_values)
            shared = {"preprocess": (t1 - t0) / len(images), "encode": (time.perf_counter() - t1) / len(images)}
            return [
                self._one_with_model(image, select_item(encoding, b), pq, image_condition, mode, request, shared,
                                     deadline)
                for b, (image, pq, mode, request) in enumerate(zip(images, parsed, modes, requests))
            ]

    def _one_with_model(
        self, image: LoadedImage, enc: Any, parsed: ParsedQuery | None, image_condition: _Condition | None,
        mode: str, request: CropRequest, shared: dict[str, float], deadline: Deadline | None,
    ) -> Candidates:
        """Query embedding, grounding (and exclude phrases), then the candidates of ``mode`` for one
        encoded image (``enc``: a batch of one)."""
        check_deadline(deadline, "text")
        t3 = time.perf_counter()
        cond = image_condition or self._text_condition(parsed)
        t4 = time.perf_counter()
        notes: list[str] = []
        check_deadline(deadline, "ground")
        grounding = self._ground(enc, cond, image.size, notes)
        if request.exclude:  # grounded into avoid boxes: post-processing pushes them down
            request = replace(request, avoid=np.concatenate(
                [request.avoid, self._exclude_boxes(enc, request.exclude, *image.size)]))
        t5 = time.perf_counter()
        check_deadline(deadline, "compose")
        faces = NO_BOXES
        if mode == "clipcrop":
            decoded = self.decoder_model.decode(enc, grounding)
            source, region = clipcrop_candidates(image.array, decoded, grounding, request, self.composer_config, notes)
        else:
            W, H = image.size
            keep = valid_boxes_px(grounding, W, H) if cond is not None else self._generic_detections(enc, W, H)
            # the region was grounded: a diffuse map's centre says nothing about it
            config = replace(self.composer_config, centred_weight=0.0)
            source, region, faces = zeroshot_candidates(image.array, keep, request, config,
                                                        conditioned=cond is not None)
        explanation = Explanation(notes=tuple(notes)) if cond is None else Explanation(
            query=cond.query, query_image=cond.query_image, phrases=cond.phrases, truncated=cond.truncated,
            grounding=grounded_boxes(grounding, cond.phrases, image.size), notes=tuple(notes),
        )
        timings = {**shared, "text": t4 - t3, "ground": t5 - t4, "crop": time.perf_counter() - t5}
        return Candidates(mode=mode, request=request, source=source, region=region, image_size=image.size,
                          image_rgb=image.array, explanation=explanation, timings=timings, faces=faces)

    def _ground(self, enc: Any, cond: _Condition | None, size: tuple[int, int], notes: list[str]) -> Any:
        """OWL-ViT's grounding of the condition (repaired like any model output), or the
        unconditioned one without a usable condition; ``notes`` says what was replaced."""
        from promptcrop.model.grounding import ground, unconditioned

        if cond is None or cond.embeds is None:
            if cond is not None:
                notes.append(FALLBACK_QUERY_IMAGE)
            return unconditioned(enc)
        logits = self.encoder.query_logits(enc, cond.embeds[None])
        logits = A.nan_to_num(logits, nan=-LOGIT_BOUND, posinf=LOGIT_BOUND, neginf=-LOGIT_BOUND)
        return repair_grounding(ground(enc, logits), size, notes)

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

    def _generic_detections(self, enc: Any, width: int, height: int) -> np.ndarray:
        """Strongest detections of :data:`GENERIC_PROMPTS` above the threshold, ``[N ≤ 3, 4]`` px."""
        embeds, _ = self._embed_phrases(GENERIC_PROMPTS)
        logits = self.encoder.query_logits(enc, embeds[None])  # [1, P, W]
        prob = A.to_numpy(A.sigmoid(logits[0])).max(axis=-1)  # [P]
        boxes_px, ok = B.repair_xyxy_px(
            B.model_to_image_xyxy_px(A.to_numpy(enc.boxes_cxcywh[0]), width, height), width, height)
        strong = np.flatnonzero((np.nan_to_num(prob, nan=0.0) >= self.detection_threshold) & ok)
        if strong.size == 0:
            return np.zeros((0, 4))
        keep = B.select_diverse(boxes_px[strong], prob[strong], max_iou=GENERIC_DEDUP_IOU, k=MAX_GENERIC_BOXES)
        return boxes_px[strong][keep]

    # ------------------------------------------------------------------ query embeddings

    def _image_condition(self, query_image: ImageInput) -> _Condition:
        """The one-shot query embedding of an example image, ``[1, C]`` (cached by content);
        ``embeds`` is None when the model gives no usable (finite) embedding for it."""
        import hashlib  # only for example images: its import loads OpenSSL

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
