"""The ONNX Runtime backend: OWL-ViT and the ClipCrop decoder run from an exported directory.

A directory written by ``promptcrop export-onnx`` (:mod:`promptcrop.backends.export`) holds::

    manifest.json       {"format": "promptcrop-onnx", "format_version": 1, "promptcrop_version",
                         "model": {"id", "token_dim", "embed_dim", "grid_hw", "image_size",
                                   "max_text_positions"},
                         "decoder": null | {"id", "config": {...DecoderConfig fields...},
                                            "query_parts": null | "both" | "text" | "keywords"},
                         "opset", "quantization": null | "int8-dynamic", "files": {...},
                         "fidelity": {...the export-time comparison with PyTorch...}}
    image.onnx          pixel_values [B, 3, S, S] → tokens [B, P, D], boxes_cxcywh [B, P, 4],
                        class_embeds [B, P, C]
    text.onnx           input_ids, attention_mask [T, L] int64 → text_features [T, C]
    class_head.onnx     tokens [B, P, D], query_embeds [B, Q, C] → logits [B, P, Q]
    decoder.onnx        (with a decoder) tokens [B, P, D], selected_tokens [B, W ≥ 1, D],
                        selected_mask [B, W] bool, union_cxcywh [B, 4] → boxes_cxcywh [B, M, 4],
                        scores [B, M], raw_boxes_cxcywh [B, M, 4]
    tokenizer.json, processor_config.json / preprocessor_config.json, ...
                        the OWL-ViT processor (tokenizer and image processor)

(with ``--int8`` the quantised graphs are ``*.int8.onnx``; the class head stays float32). :class:`OnnxEncoder` and
:class:`OnnxDecoder` implement the same encoder / decoder interface as the PyTorch
``OwlViTEncoder`` / ``ClipCropDecoder`` and return NumPy arrays, so pre-processing, grounding,
composition and post-processing are shared (:mod:`promptcrop.arrays`); only the forwards differ.
They run on the CPU in float32 (the int8 graphs quantise weights inside the graph, inputs and
outputs stay float32).

Nothing here imports PyTorch or transformers: an export directory runs with the ``onnx`` extra
alone (``onnxruntime``, and ``tokenizers`` for the exported ``tokenizer.json``); without them,
loading says how to install them in one line (:data:`INSTALL_HINT`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from promptcrop import __version__
from promptcrop.backends.base import DecoderOutput, ImageEncoding
from promptcrop.backends.frontend import OwlViTFrontEnd, Tokens, preprocess_plan
from promptcrop.boxes import box_iou, cxcywh_to_xyxy, generalized_box_iou
from promptcrop.config import DecoderConfig, config_from_dict, config_to_dict
from promptcrop.errors import CheckpointError, InternalError, ModelUnavailableError
from promptcrop.extras import install_hint, require

FORMAT = "promptcrop-onnx"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
INT8 = "int8-dynamic"
"""The manifest's ``quantization`` for ``onnxruntime.quantization.quantize_dynamic`` int8 weights."""
GRAPHS = ("image", "text", "class_head", "decoder")
QUANTIZED_GRAPHS = ("image", "text", "decoder")
"""The graphs whose weights ``--int8`` quantises. The class head stays float32: it holds 0.4 M of
B/32's 153 M weights and costs little, but its logits decide which token each phrase grounds to,
and int8 moved them most (real-size random weights: cosine over tokens 0.99 vs ≥ 0.999 elsewhere)."""
INSTALL_HINT = install_hint("onnx")
TOKENIZER_FILE = "tokenizer.json"
"""The tokenizer the text graph was exported with (the ``tokenizers`` library's format)."""
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
"""Where transformers saves the image processor's settings (v4; v5 nests them in the second)."""
QUERY_BOX_SHARE = 0.8
"""OWL-ViT's one-shot query box: every box within this share of the best IoU to the whole image."""


def require_onnxruntime() -> ModuleType:
    """``import onnxruntime``, or :class:`ModelUnavailableError` with the one-line install hint."""
    return require("onnxruntime", "the ONNX backend needs", error=ModelUnavailableError)


def graph_file(name: str, quantization: str | None) -> str:
    """The file name of graph ``name`` (one of :data:`GRAPHS`) in an export directory: int8 graphs
    (:data:`QUANTIZED_GRAPHS` under :data:`INT8`) are ``<name>.int8.onnx``."""
    if name not in GRAPHS:
        raise ValueError(f"unknown graph {name!r}; expected one of {', '.join(GRAPHS)}")
    return f"{name}.int8.onnx" if quantization == INT8 and name in QUANTIZED_GRAPHS else f"{name}.onnx"


def source_name(source: str) -> str:
    """Last path component of a model / decoder id: a Hub id and a local copy in a directory
    of the same name (``google/owlvit-base-patch32``, ``~/models/owlvit-base-patch32``) agree."""
    return re.split(r"[/\\]", str(source).rstrip("/\\"))[-1]


# --------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class OnnxManifest:
    """What ``manifest.json`` says about an export directory.

    ``model_id``: the OWL-ViT hub id or directory exported; ``token_dim`` (D), ``embed_dim``
    (C), ``grid_hw`` (P = gh · gw), ``image_size`` (S, square input), ``max_text_positions`` (L).
    ``decoder_id`` / ``decoder_config``: the ClipCrop decoder exported, or None for none;
    ``decoder_query_parts``: the query parts its checkpoint records (None: not recorded).
    ``opset``: the ONNX opset. ``quantization``: None (float32) or :data:`INT8`.
    ``files``: graph name → file name (``decoder`` only with a decoder). ``fidelity``: the
    export-time comparison with PyTorch, per graph and output (``max_abs``, ``cosine``).
    """

    model_id: str
    token_dim: int
    embed_dim: int
    grid_hw: tuple[int, int]
    image_size: int
    max_text_positions: int
    opset: int
    quantization: str | None = None
    decoder_id: str | None = None
    decoder_config: DecoderConfig | None = None
    decoder_query_parts: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    fidelity: dict[str, Any] = field(default_factory=dict)
    promptcrop_version: str = __version__

    def __post_init__(self) -> None:
        if self.quantization not in (None, INT8):
            raise ValueError(f"quantization must be null or {INT8!r}, got {self.quantization!r}")
        if (self.decoder_id is None) != (self.decoder_config is None):
            raise ValueError("decoder id and decoder config go together")
        expected = [g for g in GRAPHS if g != "decoder" or self.decoder_id is not None]
        if sorted(self.files) != sorted(expected):
            raise ValueError(f"files must name the graphs {', '.join(expected)}, got {sorted(self.files)}")
        object.__setattr__(self, "grid_hw", tuple(int(v) for v in self.grid_hw))

    def to_json(self) -> dict[str, Any]:
        """The ``manifest.json`` object."""
        decoder = None if self.decoder_id is None else {
            "id": self.decoder_id, "config": config_to_dict(self.decoder_config),
            "query_parts": self.decoder_query_parts,
        }
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "promptcrop_version": self.promptcrop_version,
            "model": {
                "id": self.model_id, "token_dim": self.token_dim, "embed_dim": self.embed_dim,
                "grid_hw": list(self.grid_hw), "image_size": self.image_size,
                "max_text_positions": self.max_text_positions,
            },
            "decoder": decoder,
            "opset": self.opset,
            "quantization": self.quantization,
            "files": dict(self.files),
            "fidelity": self.fidelity,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnnxManifest:
        """Inverse of :meth:`to_json`; ``ValueError`` / ``KeyError`` / ``TypeError`` on bad entries."""
        model = data["model"]
        decoder = data.get("decoder")
        return cls(
            model_id=str(model["id"]), token_dim=int(model["token_dim"]), embed_dim=int(model["embed_dim"]),
            grid_hw=tuple(model["grid_hw"]), image_size=int(model["image_size"]),
            max_text_positions=int(model["max_text_positions"]), opset=int(data["opset"]),
            quantization=data.get("quantization"),
            decoder_id=None if decoder is None else str(decoder["id"]),
            decoder_config=None if decoder is None else config_from_dict(DecoderConfig, decoder["config"]),
            decoder_query_parts=None if decoder is None else decoder.get("query_parts"),
            files=dict(data["files"]), fidelity=dict(data.get("fidelity") or {}),
            promptcrop_version=str(data.get("promptcrop_version", "unknown")),
        )

    def write(self, directory: Path) -> Path:
        """Write ``manifest.json`` into ``directory``; returns its path."""
        path = Path(directory) / MANIFEST_NAME
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    def check_sources(self, directory: str | Path, *, model: str | None, decoder: str | None) -> None:
        """Refuse an export made from another model or decoder (:class:`CheckpointError`).

        ``model`` / ``decoder``: what the caller asked for (hub ids or directories, compared by
        their last path component, see :func:`source_name`); ``model=None`` accepts the
        exported model, ``decoder=None`` runs without the exported decoder.
        """
        where = f"ONNX directory {str(directory)!r}"
        if model is not None and source_name(model) != source_name(self.model_id):
            raise CheckpointError(
                f"{where} was exported from OWL-ViT model {self.model_id!r}, not {model!r}; "
                f"use that model or export {model!r} again (promptcrop export-onnx)"
            )
        if decoder is None:
            return
        if self.decoder_id is None:
            raise CheckpointError(
                f"{where} was exported without a decoder, but decoder {decoder!r} was asked for; "
                "export it again with that decoder (promptcrop export-onnx --decoder)"
            )
        if source_name(decoder) != source_name(self.decoder_id):
            raise CheckpointError(
                f"{where} was exported with decoder {self.decoder_id!r}, not {decoder!r}; "
                f"use that decoder or export again with {decoder!r} (promptcrop export-onnx)"
            )


def read_manifest(directory: str | Path) -> OnnxManifest:
    """Parse and validate ``<directory>/manifest.json``; :class:`CheckpointError` names the problem."""
    directory = Path(directory).expanduser()
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise CheckpointError(
            f"ONNX directory {str(directory)!r} does not exist; create it with promptcrop export-onnx"
        )
    if not path.is_file():
        raise CheckpointError(
            f"{path} is missing: {str(directory)!r} is not a directory written by promptcrop export-onnx"
        )
    data = _read_json(path, required=True)
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a promptcrop ONNX manifest (expected format {FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: manifest format_version {data.get('format_version')!r} is not supported by "
            f"promptcrop {__version__} (it reads version {FORMAT_VERSION}); export the model again"
        )
    try:
        manifest = OnnxManifest.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid manifest ({type(exc).__name__}: {exc})") from None
    missing = [name for name in manifest.files.values() if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(f"{directory}: the manifest lists {', '.join(missing)}, which is missing")
    return manifest


# --------------------------------------------------------------------------- sessions


class _Graph:
    """One ONNX Runtime session: named float / int / bool arrays in, NumPy arrays out."""

    def __init__(self, path: Path, threads: int | None) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no warnings on the user's terminal
        options.enable_cpu_mem_arena = False
        # No busy-waiting of the worker threads after each operator: between the graphs the
        # Predictor runs PyTorch and NumPy steps on the same cores, which a spinning thread
        # slows down (B/32 int8 at 768² on 2 cores: median prediction 0.18-0.19 s instead of 0.23 s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for broken files
            raise CheckpointError(f"{path}: ONNX Runtime cannot load it ({type(exc).__name__})") from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.path = path

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Inputs in the graph's input order; ONNX Runtime's run is thread-safe."""
        feed = {name: np.ascontiguousarray(a) for name, a in zip(self.inputs, arrays)}
        return list(self.session.run(None, feed))


def _cpu_only(device: Any, dtype: Any) -> None:
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"the ONNX backend runs on the CPU, not on {device}; use the torch backend there")
    if dtype is not None and str(dtype) not in ("torch.float32", "float32"):
        raise ValueError(f"the ONNX backend runs in float32 (int8 weights inside), not {dtype}")


# --------------------------------------------------------------------------- encoder


def tokenizers_tokenize(directory: Path) -> Any:
    """The front end's tokenise function (:data:`promptcrop.backends.frontend.Tokenize`) for the
    export directory's ``tokenizer.json``, read by the ``tokenizers`` library (what transformers'
    CLIP tokenizer runs too): the same ids, truncation and padding."""
    tokenizers = require("tokenizers", "the ONNX backend needs", error=ModelUnavailableError)
    path = directory / TOKENIZER_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing (exported by an older promptcrop); export again")
    config = _read_json(directory / "tokenizer_config.json", required=False)
    try:
        plain = tokenizers.Tokenizer.from_file(str(path))
        fitted = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own exception type for a broken file
        raise CheckpointError(f"{path}: cannot be read ({type(exc).__name__})") from None
    pad_token = str(config.get("pad_token") or "!")
    pad_id = fitted.token_to_id(pad_token)
    if pad_id is None:
        raise CheckpointError(f"{path}: the padding token {pad_token!r} is not in its vocabulary; export again")
    plain.no_padding()
    plain.no_truncation()

    def tokenize(texts: Sequence[str], positions: int) -> list[Tokens]:
        fitted.enable_truncation(max_length=positions)
        fitted.enable_padding(length=positions, pad_id=pad_id, pad_token=pad_token)
        lengths = [len(e.ids) for e in plain.encode_batch(list(texts))]
        return [Tokens(tuple(e.ids), tuple(e.attention_mask), length > positions)
                for length, e in zip(lengths, fitted.encode_batch(list(texts)))]

    return tokenize


def image_processor_config(directory: Path) -> dict[str, Any]:
    """The image processor's settings saved in an export directory (either file of
    :data:`IMAGE_PROCESSOR_FILES`)."""
    for name in IMAGE_PROCESSOR_FILES:
        data = _read_json(directory / name, required=False)
        config = data.get("image_processor", data)
        if "image_mean" in config:
            return config
    raise CheckpointError(f"{directory}: the OWL-ViT image processor settings are missing; export again")


def _read_json(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.is_file() and not required:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def image_query_embeds(boxes_cxcywh: np.ndarray, class_embeds: np.ndarray) -> np.ndarray | None:
    """OWL-ViT's one-shot query embedding (transformers' ``embed_image_query``) from an image's
    outputs: ``boxes_cxcywh [Q, P, 4]``, ``class_embeds [Q, P, C]`` → ``[Q', 1, C]``, or None.

    For each query image, among its boxes whose IoU with the whole image is at least
    :data:`QUERY_BOX_SHARE` of the best (generalised IoU when no box overlaps it), the class
    embedding least similar to the image's mean class embedding. An image without such a box
    (non-finite outputs) gives no row, so ``Q' < Q``.
    """
    whole = np.asarray([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    rows = []
    for boxes, embeds in zip(cxcywh_to_xyxy(boxes_cxcywh), class_embeds):
        ious = box_iou(whole, boxes)[0]
        if np.all(ious == 0.0):
            ious = generalized_box_iou(whole, boxes)[0]
        selected = np.flatnonzero(ious >= ious.max() * QUERY_BOX_SHARE)
        if selected.size:
            similarity = embeds[selected] @ embeds.mean(axis=0)
            rows.append(embeds[selected[np.argmin(similarity)]][None])
    return np.stack(rows) if rows else None


class OnnxEncoder(OwlViTFrontEnd):
    """The OWL-ViT side (image graph with its heads, text tower, class head) in ONNX Runtime.

    Same interface and outputs as :class:`promptcrop.model.encoder.OwlViTEncoder`, as NumPy
    arrays (float32); pre-processing, tokenisation and the query-embedding steps are the same
    code (:class:`~promptcrop.backends.frontend.OwlViTFrontEnd`), the tokenizer is the exported
    ``tokenizer.json``.

    Attributes:
        model_id: the OWL-ViT the graphs were exported from (the manifest's).
        token_dim, embed_dim, grid_hw, image_size, max_text_positions: as ``OwlViTEncoder``.
        manifest: the export directory's :class:`OnnxManifest`.
    """

    device = "cpu"
    dtype = "float32"
    backend = "onnx"

    def __init__(self, directory: str | Path, manifest: OnnxManifest, *, threads: int | None = None) -> None:
        directory = Path(directory)
        self.manifest = manifest
        self.model_id = manifest.model_id
        self.token_dim = manifest.token_dim
        self.embed_dim = manifest.embed_dim
        self.grid_hw = manifest.grid_hw
        self.image_size = manifest.image_size
        self.max_text_positions = manifest.max_text_positions
        plan = preprocess_plan(image_processor_config(directory))
        if plan is None:
            raise CheckpointError(f"{directory}: the image processor settings are not OWL-ViT's (resize and "
                                  "normalise only); export again")
        self._init_front_end(tokenizers_tokenize(directory), plan)
        self._image = _Graph(directory / manifest.files["image"], threads)
        self._text = _Graph(directory / manifest.files["text"], threads)
        self._class_head = _Graph(directory / manifest.files["class_head"], threads)

    def to(self, device: Any = None, dtype: Any = None) -> OnnxEncoder:
        """No-op on the CPU in float32 (what the graphs run in); ValueError for anything else."""
        _cpu_only(device, dtype)
        return self

    def eval(self) -> OnnxEncoder:
        """Graphs always run in inference mode; kept for interface parity."""
        return self

    def _as_input(self, array: Any, *, integer: bool = False) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(array), dtype=np.int64 if integer else np.float32)

    def encode_images(self, pixel_values: np.ndarray) -> ImageEncoding:
        """``pixel_values [B, 3, S, S]`` → tokens ``[B, P, D]``, initial boxes ``[B, P, 4]``
        (normalised cxcywh) and class embeddings ``[B, P, C]``."""
        tokens, boxes_cxcywh, class_embeds = self._image(self._check_pixels(pixel_values))
        return ImageEncoding(tokens=tokens, grid_hw=self.grid_hw, boxes_cxcywh=boxes_cxcywh, class_embeds=class_embeds)

    def query_logits(
        self, encoding: ImageEncoding, query_embeds: np.ndarray, query_mask: np.ndarray | None = None
    ) -> np.ndarray:
        """OWL-ViT's class-head logits ``[B, P, W]`` of every token for every query embedding
        ``[B, W, C]``; padding queries (``query_mask`` False) get the dtype's minimum."""
        batch = encoding.batch_size
        if query_embeds.ndim != 3 or query_embeds.shape[0] != batch or query_embeds.shape[2] != self.embed_dim:
            raise InternalError(f"query_embeds must be [{batch}, W, {self.embed_dim}], got {tuple(query_embeds.shape)}")
        if query_mask is not None and tuple(query_mask.shape) != tuple(query_embeds.shape[:2]):
            raise InternalError(f"query_mask must be {tuple(query_embeds.shape[:2])}, got {tuple(query_mask.shape)}")
        if query_embeds.shape[1] == 0:
            return np.zeros((batch, encoding.tokens.shape[1], 0), dtype=np.float32)
        (logits,) = self._class_head(self._as_input(encoding.tokens), self._as_input(query_embeds))
        if query_mask is not None:  # as OWL-ViT's class head does with its query mask
            logits = np.where(np.asarray(query_mask)[:, None, :] == 0, np.finfo(logits.dtype).min, logits)
        return logits

    def _text_features(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._text(input_ids, attention_mask)[0]

    def _image_query_embeds(self, pixel_values: np.ndarray) -> np.ndarray | None:
        encoding = self.encode_images(pixel_values)
        return image_query_embeds(encoding.boxes_cxcywh, encoding.class_embeds)


# --------------------------------------------------------------------------- decoder


class OnnxDecoder:
    """The ClipCrop decoder's inference path (final boxes and scores) in ONNX Runtime.

    ``decode(encoding, grounding)`` returns the same :class:`~promptcrop.model.decoder.DecoderOutput`
    as ``ClipCropDecoder.decode`` (heads on the last layer only, one layer in ``layer_*``).
    ``source``: the decoder checkpoint exported; ``query_parts``: the query parts it records.
    """

    device = "cpu"
    dtype = "float32"
    backend = "onnx"

    def __init__(self, directory: str | Path, manifest: OnnxManifest, *, threads: int | None = None) -> None:
        if manifest.decoder_config is None or manifest.decoder_id is None:
            raise CheckpointError(f"{directory}: exported without a decoder")
        self.manifest = manifest
        self.source = manifest.decoder_id
        self.config = manifest.decoder_config
        self.query_parts = manifest.decoder_query_parts
        self._graph = _Graph(Path(directory) / manifest.files["decoder"], threads)

    def to(self, device: Any = None, dtype: Any = None) -> OnnxDecoder:
        """No-op on the CPU in float32; ValueError for anything else."""
        _cpu_only(device, dtype)
        return self

    def eval(self) -> OnnxDecoder:
        """Graphs always run in inference mode; kept for interface parity."""
        return self

    def decode(self, encoding: ImageEncoding, grounding: Any, *, all_layers: bool = False) -> DecoderOutput:
        """Crops ``[B, M, 4]`` (normalised cxcywh, clamped) and scores ``[B, M]`` for an encoding
        and its grounding (``tokens [B, W, D]``, ``mask [B, W]``, ``union_cxcywh [B, 4]``)."""
        if all_layers:
            raise ValueError("the ONNX decoder holds the inference path only (all_layers=False)")
        if tuple(encoding.grid_hw) != tuple(self.manifest.grid_hw):
            raise InternalError(f"the decoder was exported for grid {self.manifest.grid_hw}, got {encoding.grid_hw}")
        selected, mask = np.asarray(grounding.tokens, np.float32), np.asarray(grounding.mask, bool)
        if selected.shape[1] == 0:  # no query: one masked token gives the same zero condition
            selected = np.zeros((selected.shape[0], 1, encoding.tokens.shape[-1]), np.float32)
            mask = np.zeros((selected.shape[0], 1), bool)
        boxes, scores, raw = self._graph(
            np.asarray(encoding.tokens, np.float32), selected, mask, np.asarray(grounding.union_cxcywh, np.float32)
        )
        return DecoderOutput(boxes_cxcywh=boxes, scores=scores, layer_boxes_cxcywh=raw[None], layer_scores=scores[None])


# --------------------------------------------------------------------------- loading


def load_onnx_backend(
    directory: str | Path,
    *,
    model: str | None = None,
    decoder: str | None = None,
    threads: int | None = None,
) -> tuple[OnnxEncoder, OnnxDecoder | None]:
    """The encoder (and the decoder when ``decoder`` is given) of an export directory.

    ``model`` / ``decoder``: the OWL-ViT and decoder the caller means; a directory exported from
    another one is refused (:meth:`OnnxManifest.check_sources`). ``threads``: ONNX Runtime's
    intra-op threads (None: its default, one per physical core).

    Raises :class:`ModelUnavailableError` without onnxruntime (with :data:`INSTALL_HINT`),
    :class:`CheckpointError` for a missing, broken or mismatched directory.
    """
    require_onnxruntime()
    directory = Path(directory).expanduser()
    manifest = read_manifest(directory)
    manifest.check_sources(directory, model=model, decoder=decoder)
    encoder = OnnxEncoder(directory, manifest, threads=threads)
    onnx_decoder = None if decoder is None else OnnxDecoder(directory, manifest, threads=threads)
    release_freed_memory()
    return encoder, onnx_decoder


def release_freed_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; a no-op elsewhere).

    Called after building the sessions: ONNX Runtime parses each model file, builds its weights and frees the parsed copy, but glibc
    keeps freed blocks mapped: without this the process would hold a large share of the graphs' size
    once more (measured in docs/ONNX.md).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        return
    if trim is not None:
        trim(0)
