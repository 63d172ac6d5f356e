"""``promptcrop export-onnx``: OWL-ViT (and a ClipCrop decoder) as ONNX graphs, checked against PyTorch.

:func:`export_onnx` exports, with ``torch.onnx.export(dynamo=True)``, the graphs that
:mod:`promptcrop.backends.onnx` runs (image side with its heads, text tower, class head, decoder),
optionally quantises their weights to int8 with ``onnxruntime.quantization.quantize_dynamic``,
compares every output of the exported backend with PyTorch's on a fixed input (two sample photos,
three phrases) and installs the directory only when the differences are within tolerance
(:class:`ExportConfig`). :func:`check_photos` then measures, on the user's own photos and weights,
how far the exported backend moves what the Predictor computes (features cosine, grounded-token
agreement, top-1 crop IoU against PyTorch float32) — random weights cannot tell how real weights
quantise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from promptcrop.backends.fusion import fuse_attention
from promptcrop.backends.onnx import (
    GRAPHS,
    INT8,
    MANIFEST_NAME,
    TOKENIZER_FILE,
    OnnxManifest,
    graph_file,
    load_onnx_backend,
    require_onnxruntime,
)
from promptcrop.errors import CheckpointError, PromptcropError

FIXED_PHRASES = ("a photo of a person", "a cat", "the red rocket standing on the launch pad at night")
"""Phrases of the export-time comparison (the last one is longer than OWL-ViT's 16 positions)."""


class ExportError(PromptcropError):
    """The exported graphs differ from PyTorch beyond tolerance, or cannot be exported; nothing
    was written."""


@dataclass(frozen=True)
class ExportConfig:
    """How an export is made and judged.

    ``int8``: quantise the weights of the image, text and decoder graphs to int8
    (``quantize_dynamic``, QInt8; see :data:`~promptcrop.backends.onnx.QUANTIZED_GRAPHS`).
    ``fp32_tolerance``: float32 graphs must match PyTorch to ``max |Δ| ≤ fp32_tolerance ·
    max(1, max |PyTorch|)`` on every output. ``int8_min_cosine``: int8 graphs must keep the mean
    cosine similarity of every output's rows (last axis) to PyTorch's at least this high — a
    guard against a broken quantisation, not a quality promise (see :func:`check_photos`).
    """

    int8: bool = False
    fp32_tolerance: float = 1e-4
    int8_min_cosine: float = 0.99

    def __post_init__(self) -> None:
        if not 0.0 < self.fp32_tolerance < 1.0:
            raise ValueError(f"fp32_tolerance must be in (0, 1), got {self.fp32_tolerance}")
        if not 0.0 < self.int8_min_cosine <= 1.0:
            raise ValueError(f"int8_min_cosine must be in (0, 1], got {self.int8_min_cosine}")


# --------------------------------------------------------------------------- graphs


class _ImageGraph(nn.Module):
    """pixel_values → tokens, boxes_cxcywh, class_embeds (``OwlViTEncoder.encode_images``)."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        enc = self.encoder.encode_images(pixel_values)
        return enc.tokens, enc.boxes_cxcywh, enc.class_embeds


class _TextGraph(nn.Module):
    """input_ids, attention_mask → text features (``get_text_features``, not normalised)."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder._text_features(input_ids, attention_mask)


class _ClassHeadGraph(nn.Module):
    """tokens, query_embeds → logits (OWL-ViT's ``class_predictor`` without a query mask)."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, tokens: torch.Tensor, query_embeds: torch.Tensor) -> torch.Tensor:
        return self.encoder.model.class_predictor(tokens, query_embeds)[0]


class _DecoderGraph(nn.Module):
    """The decoder's inference path (``all_layers=False``) at a fixed grid."""

    def __init__(self, decoder: nn.Module, grid_hw: tuple[int, int]) -> None:
        super().__init__()
        self.decoder = decoder
        self.grid_hw = tuple(grid_hw)

    def forward(
        self, tokens: torch.Tensor, selected_tokens: torch.Tensor, selected_mask: torch.Tensor,
        union_cxcywh: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.decoder(tokens, self.grid_hw, selected_tokens, selected_mask, union_cxcywh, all_layers=False)
        return out.boxes_cxcywh, out.scores, out.layer_boxes_cxcywh[-1]


@dataclass
class _GraphSpec:
    module: nn.Module
    args: tuple[torch.Tensor, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dynamic: tuple[dict[int, Any], ...]


def _graph_specs(encoder: Any, decoder: nn.Module | None) -> dict[str, _GraphSpec]:
    """The graphs to export with example inputs (batch 2 and 3 queries, so that no dynamic axis
    is specialised to 0 or 1)."""
    batch, texts, queries = torch.export.Dim("batch"), torch.export.Dim("texts"), torch.export.Dim("queries")
    s, p, d, c = encoder.image_size, encoder.grid_hw[0] * encoder.grid_hw[1], encoder.token_dim, encoder.embed_dim
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, p, d, generator=gen)
    ids, mask, _ = encoder._tokens(list(FIXED_PHRASES))
    specs = {
        "image": _GraphSpec(
            _ImageGraph(encoder), (torch.randn(2, 3, s, s, generator=gen),), ("pixel_values",),
            ("tokens", "boxes_cxcywh", "class_embeds"), ({0: batch},),
        ),
        "text": _GraphSpec(
            _TextGraph(encoder), (ids.cpu(), mask.cpu()), ("input_ids", "attention_mask"),
            ("text_features",), ({0: texts}, {0: texts}),
        ),
        "class_head": _GraphSpec(
            _ClassHeadGraph(encoder), (tokens, torch.randn(2, 3, c, generator=gen)),
            ("tokens", "query_embeds"), ("logits",), ({0: batch}, {0: batch, 1: queries}),
        ),
    }
    if decoder is not None:
        selected_mask = torch.tensor([[True, True, False], [True, False, False]])
        specs["decoder"] = _GraphSpec(
            _DecoderGraph(decoder, encoder.grid_hw),
            (tokens, torch.randn(2, 3, d, generator=gen), selected_mask, torch.full((2, 4), 0.5)),
            ("tokens", "selected_tokens", "selected_mask", "union_cxcywh"),
            ("boxes_cxcywh", "scores", "raw_boxes_cxcywh"),
            ({0: batch}, {0: batch, 1: queries}, {0: batch, 1: queries}, {0: batch}),
        )
    return specs


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No exporter / optimiser / quantiser chatter (warnings, INFO logs) on the user's terminal."""
    names = ("", "torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir", "onnxruntime")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _save_processor(processor: Any, directory: Path) -> None:
    """The OWL-ViT processor's files, with the tokenizer also as ``tokenizer.json`` (what the ONNX
    backend reads with the ``tokenizers`` library, without transformers): a slow tokenizer that
    transformers saves without it is converted."""
    processor.save_pretrained(str(directory))
    path = directory / TOKENIZER_FILE
    if not path.is_file():
        from transformers.convert_slow_tokenizer import convert_slow_tokenizer

        tokenizer = processor.tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None) or convert_slow_tokenizer(tokenizer)
        backend.save(str(path))


def _export_graph(spec: _GraphSpec, path: Path) -> int:
    """Export one graph to ``path`` (weights inside the file); returns its opset."""
    import onnx

    from promptcrop.model.decoder import _cached_sine_encoding

    _cached_sine_encoding.cache_clear()  # tracing must neither read nor leave traced tensors there
    try:
        with _quiet():
            program = torch.onnx.export(
                spec.module.eval(), spec.args, dynamo=True, input_names=list(spec.inputs),
                output_names=list(spec.outputs), dynamic_shapes=spec.dynamic, optimize=False, verbose=False,
            )
            _fold_weights(program.model)
            program.save(str(path), external_data=False)
    except PromptcropError:
        raise
    except Exception as exc:  # the exporter raises many types; the user needs one line
        first_line = (str(exc).splitlines() or [""])[0]
        raise ExportError(f"cannot export the {path.stem} graph: {type(exc).__name__}: {first_line}") from exc
    finally:
        _cached_sine_encoding.cache_clear()
    model = onnx.load(str(path))
    if fuse_attention(model):  # ONNX Runtime's one-kernel attention (see promptcrop.backends.fusion)
        onnx.save(model, str(path))
    return max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx"))


FOLD_LIMIT = 1 << 27
"""Constant folding limit (elements) of :func:`_fold_weights`: above any weight of OWL-ViT B/16-L/14."""


def _fold_weights(model: Any) -> None:
    """onnxscript's graph optimisation with constant folding of weights of any size.

    The exporter's default folds only small constants, which leaves weights that the model slices,
    transposes or concatenates at run time (the decoder's packed attention projections) as float32
    computations; folded, every weight is an initializer feeding its MatMul directly — faster,
    and what ``quantize_dynamic`` quantises.
    """
    import onnxscript.optimizer

    onnxscript.optimizer.optimize(model, input_size_limit=FOLD_LIMIT, output_size_limit=FOLD_LIMIT)
    if _split_constant_weights(model.graph):  # then fold what reads the pieces (transposes)
        onnxscript.optimizer.optimize(model, input_size_limit=FOLD_LIMIT, output_size_limit=FOLD_LIMIT)


def _split_constant_weights(graph: Any) -> int:
    """Replace every ``Split`` of a constant (a packed attention projection chunked in three)
    by the constant pieces, which onnxscript's folding leaves alone (multi-output ops); returns
    how many were replaced."""
    import onnx_ir as ir

    replaced = 0
    for node in list(graph):
        if node.op_type != "Split" or node.domain not in ("", "ai.onnx") or node.inputs[0] is None:
            continue
        weight = node.inputs[0].const_value
        sizes = node.inputs[1].const_value if len(node.inputs) > 1 and node.inputs[1] is not None else None
        if weight is None or (sizes is None and len(node.inputs) > 1 and node.inputs[1] is not None):
            continue
        array = weight.numpy()
        axis = node.attributes.get_int("axis", 0)
        count = len(node.outputs)
        if sizes is None:
            if array.shape[axis] % count:
                continue
            sizes_list = [array.shape[axis] // count] * count
        else:
            sizes_list = [int(v) for v in sizes.numpy().reshape(-1)]
        pieces = np.split(array, np.cumsum(sizes_list)[:-1], axis=axis)
        for output, piece in zip(node.outputs, pieces):
            value = ir.Value(name=f"{output.name}_folded", const_value=ir.tensor(np.ascontiguousarray(piece)))
            value.shape, value.type = output.shape, output.type
            graph.register_initializer(value)
            output.replace_all_uses_with(value)
        graph.remove(node, safe=True)
        replaced += 1
    return replaced


QUANTIZED_OPS = ("MatMul", "Gemm", "Gather")
"""What ``--int8`` quantises: the matrix products and embedding tables. Not the patch-embedding
convolution: ONNX Runtime's ``ConvInteger`` took about 14 % of the int8 image graph's time for
3 % of its arithmetic, more than the float32 convolution."""


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=list(QUANTIZED_OPS)
        )


# --------------------------------------------------------------------------- comparison


def compare(reference: Any, value: Any) -> dict[str, float]:
    """``max_abs``: largest absolute difference; ``cosine``: mean cosine similarity of the rows
    (last axis) — for ``[B, P, D]`` tokens the mean over every token of every image. Tensors or
    NumPy arrays (what the ONNX backend returns)."""
    ref = torch.as_tensor(reference).detach().float().cpu()
    val = torch.as_tensor(value).detach().float().cpu()
    if ref.shape != val.shape:
        raise ExportError(f"output shape {tuple(val.shape)} differs from PyTorch's {tuple(ref.shape)}")
    if ref.numel() == 0:
        return {"max_abs": 0.0, "cosine": 1.0, "ref_max_abs": 0.0}
    rows_ref, rows_val = ref.reshape(-1, ref.shape[-1]), val.reshape(-1, ref.shape[-1])
    cosine = nn.functional.cosine_similarity(rows_ref.double(), rows_val.double(), dim=-1, eps=1e-12)
    return {
        "max_abs": float((ref - val).abs().max()),
        "cosine": float(cosine.mean()),
        "ref_max_abs": float(ref.abs().max()),
    }


def _fixed_images() -> list[np.ndarray]:
    import skimage.data

    return [np.ascontiguousarray(skimage.data.astronaut()), np.ascontiguousarray(skimage.data.chelsea())]


def _fidelity(
    torch_encoder: Any, torch_decoder: nn.Module | None, onnx_encoder: Any, onnx_decoder: Any
) -> dict[str, dict[str, dict[str, float]]]:
    """Every output of the ONNX backend against PyTorch's on the same fixed input; each graph is
    fed PyTorch's inputs (CPU tensors, which the ONNX backend reads as NumPy arrays), so each
    figure is that graph's own difference."""
    from promptcrop.model.grounding import ground

    report: dict[str, dict[str, dict[str, float]]] = {}
    with torch.inference_mode():
        pixels = torch_encoder.preprocess(_fixed_images())
        ref_enc = torch_encoder.encode_images(pixels)
        got_enc = onnx_encoder.encode_images(pixels)
        report["image"] = {
            name: compare(getattr(ref_enc, name), getattr(got_enc, name))
            for name in ("tokens", "boxes_cxcywh", "class_embeds")
        }
        ref_text = torch_encoder.embed_texts(FIXED_PHRASES).embeds
        report["text"] = {"embeds": compare(ref_text, onnx_encoder.embed_texts(FIXED_PHRASES).embeds)}
        queries = ref_text[None].expand(ref_enc.batch_size, -1, -1)
        ref_logits = torch_encoder.query_logits(ref_enc, queries)  # [B, P, Q]
        got_logits = onnx_encoder.query_logits(ref_enc, queries)
        # rows over the tokens, per query: what grounding's argmax reads
        report["class_head"] = {"logits": compare(ref_logits.transpose(1, 2), np.swapaxes(got_logits, 1, 2))}
        if torch_decoder is not None:
            mask = torch.tensor([[True, True, True], [True, False, True]])  # with a padding query
            grounding = ground(ref_enc, torch_encoder.query_logits(ref_enc, queries, mask), mask)
            ref_dec = torch_decoder(ref_enc.tokens, ref_enc.grid_hw, grounding.tokens, grounding.mask,
                                    grounding.union_cxcywh, all_layers=False)
            got_dec = onnx_decoder.decode(ref_enc, grounding)
            report["decoder"] = {
                "boxes_cxcywh": compare(ref_dec.boxes_cxcywh, got_dec.boxes_cxcywh),
                "scores": compare(ref_dec.scores, got_dec.scores),
            }
    return report


def _failures(report: dict[str, dict[str, dict[str, float]]], config: ExportConfig) -> list[str]:
    bad = []
    for graph, outputs in report.items():
        for name, fig in outputs.items():
            if config.int8:
                if not fig["cosine"] >= config.int8_min_cosine:  # also catches NaN
                    bad.append(f"{graph}.{name} cosine {fig['cosine']:.4f} < {config.int8_min_cosine}")
            else:
                limit = config.fp32_tolerance * max(1.0, fig["ref_max_abs"])
                if not fig["max_abs"] <= limit:
                    bad.append(f"{graph}.{name} max |diff| {fig['max_abs']:.2e} > {limit:.2e}")
    return bad


def format_fidelity(report: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """One line per graph: each output's max |diff| and mean cosine against PyTorch."""
    return [
        f"{graph}: " + ", ".join(
            f"{name} max|diff|={fig['max_abs']:.2e} cosine={fig['cosine']:.6f}" for name, fig in outputs.items()
        )
        for graph, outputs in report.items()
    ]


# --------------------------------------------------------------------------- export


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote: the directory, its manifest, and the fidelity figures."""

    directory: Path
    manifest: OnnxManifest
    fidelity: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.directory.iterdir() if f.is_file())


def export_onnx(
    model: str,
    out: str | Path,
    *,
    decoder: str | None = None,
    config: ExportConfig | None = None,
    local_files_only: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export ``model`` (OWL-ViT hub id or directory) and ``decoder`` (ClipCrop checkpoint) to ``out``.

    The graphs are written into a temporary sibling of ``out``, loaded by the ONNX backend,
    compared with PyTorch (:func:`_fidelity`; ``log`` gets one line per graph) and only then
    moved to ``out``. An existing ``out`` is replaced only with ``overwrite`` and only when it
    holds an earlier export (a ``manifest.json``).

    Raises :class:`ExportError` beyond tolerance or when a graph cannot be exported (nothing is
    written), :class:`ModelUnavailableError` / :class:`CheckpointError` for unloadable weights or
    an occupied ``out``.
    """
    from promptcrop.model.checkpoint import load_decoder
    from promptcrop.model.encoder import OwlViTEncoder

    config = config or ExportConfig()
    log = log or (lambda line: None)
    require_onnxruntime()
    target = Path(out).expanduser()
    _check_target(target, overwrite)
    encoder = OwlViTEncoder.from_pretrained(model, local_files_only=local_files_only).to(dtype=torch.float32)
    torch_decoder, query_parts = None, None
    if decoder is not None:
        torch_decoder, info = load_decoder(decoder, expected_encoder=encoder, local_files_only=local_files_only)
        query_parts = getattr(info, "query_parts", None)
    quantization = INT8 if config.int8 else None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        opset = 0
        files = {}
        for name, spec in _graph_specs(encoder, torch_decoder).items():
            log(f"exporting the {name} graph ...")
            fp32 = staging / graph_file(name, None)
            opset = _export_graph(spec, fp32)
            files[name] = graph_file(name, quantization)
            if files[name] != fp32.name:
                _quantize(fp32, staging / files[name])
                fp32.unlink()
        _save_processor(encoder.processor, staging)
        manifest = OnnxManifest(
            model_id=str(model), token_dim=encoder.token_dim, embed_dim=encoder.embed_dim,
            grid_hw=encoder.grid_hw, image_size=encoder.image_size,
            max_text_positions=encoder.max_text_positions, opset=opset, quantization=quantization,
            decoder_id=None if decoder is None else str(decoder),
            decoder_config=None if torch_decoder is None else torch_decoder.config,
            decoder_query_parts=query_parts, files=files,
        )
        manifest.write(staging)
        onnx_encoder, onnx_decoder = load_onnx_backend(staging, decoder=decoder)
        report = _fidelity(encoder, torch_decoder, onnx_encoder, onnx_decoder)
        del onnx_encoder, onnx_decoder
        kind = "int8" if config.int8 else "fp32"
        for line in format_fidelity(report):
            log(f"{kind} vs PyTorch {line}")
        bad = _failures(report, config)
        if bad:
            raise ExportError(
                f"the {kind} ONNX graphs differ from PyTorch beyond tolerance ({'; '.join(bad)}); nothing was written"
            )
        manifest = OnnxManifest(**{**manifest.__dict__, "fidelity": report})
        manifest.write(staging)
        _install(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(directory=target, manifest=manifest, fidelity=report)


def _check_target(target: Path, overwrite: bool) -> None:
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return
    if not target.is_dir():
        raise CheckpointError(f"{target} exists and is not a directory")
    if not overwrite:
        raise CheckpointError(f"{target} already exists; pass overwrite to replace the export in it")
    if not (target / MANIFEST_NAME).is_file():
        raise CheckpointError(f"refusing to overwrite {target}: it does not hold an ONNX export (no {MANIFEST_NAME})")


def _install(staging: Path, target: Path) -> None:
    """Move the finished ``staging`` directory to ``target`` (checked by :func:`_check_target`)."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(staging, target)
        return
    backup = staging.with_name(staging.name + "-old")
    os.replace(target, backup)
    os.replace(staging, target)
    shutil.rmtree(backup)


# --------------------------------------------------------------------------- check on photos


@dataclass(frozen=True)
class PhotoCheck:
    """One photo of :func:`check_photos`.

    ``features_cosine``: mean cosine similarity of the image tokens ``[P, D]`` to PyTorch's.
    ``grounded_token_agreement``: share of the phrases for which grounding selects the same
    image token as PyTorch (``phrases`` of them). ``top1_iou``: IoU of the Predictor's rank-1
    crop with PyTorch's (same request, same mode ``mode``).
    """

    photo: str
    features_cosine: float
    grounded_token_agreement: float
    phrases: int
    top1_iou: float
    mode: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CheckReport:
    """:func:`check_photos` over all photos: per photo, and the mean / minimum of each figure."""

    directory: str
    quantization: str | None
    query: str | None
    photos: tuple[PhotoCheck, ...]

    def _values(self, name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in self.photos], dtype=np.float64)

    def summary(self) -> dict[str, float]:
        """``<figure>_mean`` and ``<figure>_min`` of the three figures over the photos."""
        out = {}
        for name in ("features_cosine", "grounded_token_agreement", "top1_iou"):
            values = self._values(name)
            out[f"{name}_mean"] = float(values.mean())
            out[f"{name}_min"] = float(values.min())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory, "quantization": self.quantization, "query": self.query,
            "reference": "pytorch-float32", **self.summary(), "photos": [p.to_dict() for p in self.photos],
        }

    def lines(self) -> list[str]:
        """Human-readable report: a header, one line per photo, the summary."""
        kind = "int8" if self.quantization == INT8 else "float32"
        query = f"query {self.query!r}" if self.query else "no query (generic prompts)"
        out = [f"check of the {kind} ONNX backend against PyTorch float32 on {len(self.photos)} photo(s), {query}:"]
        for p in self.photos:
            out.append(
                f"  {p.photo}: features cosine {p.features_cosine:.5f}, grounded tokens "
                f"{round(p.grounded_token_agreement * p.phrases)}/{p.phrases} agree, "
                f"top-1 crop IoU {p.top1_iou:.3f} ({p.mode})"
            )
        s = self.summary()
        out.append(
            f"  overall: features cosine mean {s['features_cosine_mean']:.5f} (min {s['features_cosine_min']:.5f}), "
            f"grounded-token agreement {s['grounded_token_agreement_mean']:.3f} "
            f"(min {s['grounded_token_agreement_min']:.3f}), top-1 crop IoU mean {s['top1_iou_mean']:.3f} "
            f"(min {s['top1_iou_min']:.3f})"
        )
        return out


def load_check_photos(paths: Sequence[str]) -> list[Any]:
    """The photos of a check, loaded now (:class:`~promptcrop.errors.ImageLoadError` for a bad one)."""
    from promptcrop.images import load_image

    return [load_image(path) for path in paths]


def check_photos(
    onnx_dir: str | Path,
    photos: Sequence[Any],
    *,
    model: str,
    decoder: str | None = None,
    query: str | None = None,
    local_files_only: bool = False,
) -> CheckReport:
    """How far the ONNX backend in ``onnx_dir`` moves what the Predictor computes on ``photos``
    (paths or :class:`~promptcrop.images.LoadedImage`), against PyTorch float32 with the same
    ``model`` / ``decoder`` weights; see :class:`PhotoCheck`. ``query``: the crops' query and the
    phrases grounded (None: unconditioned crops, the generic prompts grounded).
    """
    from promptcrop.boxes import box_iou
    from promptcrop.images import LoadedImage, load_image
    from promptcrop.model.grounding import ground
    from promptcrop.predictor import GENERIC_PROMPTS, Predictor
    from promptcrop.queries import parse_query

    predictors = [  # PyTorch float32 first, the exported backend second
        Predictor(model=model, decoder=decoder, local_files_only=local_files_only).load(),
        Predictor(model=model, decoder=decoder, backend="onnx", onnx_dir=onnx_dir).load(),
    ]
    encoders = [p.encoder for p in predictors]
    parsed = parse_query(query) if query else None
    phrases = tuple(parsed.phrases) if parsed is not None else GENERIC_PROMPTS
    results = []
    for photo in photos:
        image = photo if isinstance(photo, LoadedImage) else load_image(photo)
        tokens, picked = [], []
        with torch.inference_mode():
            for encoder in encoders:
                encoding = encoder.encode_images(encoder.preprocess([image.array]))
                embeds = encoder.embed_texts(phrases).embeds[None]
                tokens.append(encoding.tokens[0])
                picked.append(ground(encoding, encoder.query_logits(encoding, embeds)).token_index[0])
        ref, got = (p.predict(image.array, query=query, k=1) for p in predictors)
        iou = box_iou(np.array([ref.crops[0].box], dtype=np.float64), np.array([got.crops[0].box], dtype=np.float64))
        results.append(PhotoCheck(
            photo=str(image.source),
            features_cosine=compare(tokens[0], tokens[1])["cosine"],
            grounded_token_agreement=float((picked[0] == picked[1]).float().mean()),
            phrases=len(phrases),
            top1_iou=float(iou[0, 0]),
            mode=ref.mode,
        ))
    quantization = encoders[1].manifest.quantization
    return CheckReport(directory=str(onnx_dir), quantization=quantization, query=query, photos=tuple(results))


__all__ = [
    "GRAPHS", "CheckReport", "ExportConfig", "ExportError", "ExportResult", "PhotoCheck", "check_photos",
    "compare", "export_onnx", "format_fidelity", "load_check_photos",
]
