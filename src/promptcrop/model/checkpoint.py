"""Decoder checkpoints: ``model.safetensors`` + ``config.json`` in one directory, versioned.

A checkpoint directory (local, or a Hugging Face Hub model repo holding the same two files)::

    model.safetensors   the ClipCropDecoder state dict (safetensors: no pickle, loads anywhere)
    config.json         {"format": "promptcrop-decoder", "format_version": 1,
                         "promptcrop_version": "...", "preset": "paper" | null,
                         "encoder": {"id", "token_dim", "embed_dim", "grid_hw": [gh, gw]},
                         "decoder": {...DecoderConfig fields...},
                         "query_parts": "both" | "text" | "keywords"}

The encoder block records which OWL-ViT the decoder was trained on: a decoder only makes sense on
image tokens of the same width and grid, and was trained on one encoder's features.
``query_parts`` records which phrases of a caption were embedded in training (see
:func:`promptcrop.queries.query_phrases`), so inference embeds the same ones; checkpoints written
before it existed read as ``"both"``, the only choice training offered by default then. Only the
decoder is stored; training state (optimiser, schedule, epoch) is the training engine's own format.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from promptcrop import __version__
from promptcrop.config import DecoderConfig, config_from_dict, config_to_dict
from promptcrop.errors import CheckpointError, ModelUnavailableError
from promptcrop.model.decoder import ClipCropDecoder
from promptcrop.queries import DEFAULT_QUERY_PARTS, QUERY_PARTS
from promptcrop.validation import require_choice

FORMAT = "promptcrop-decoder"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class EncoderInfo:
    """The encoder a decoder was trained on, as stored in ``config.json["encoder"]``.

    ``model_id``: Hub id or directory the encoder was loaded from (JSON key ``"id"``).
    ``token_dim``: image-token width D. ``embed_dim``: class/query embedding width C.
    ``grid_hw``: ``(gh, gw)`` patch grid (P = gh * gw tokens).
    """

    model_id: str
    token_dim: int
    embed_dim: int
    grid_hw: tuple[int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.model_id, str) or not self.model_id:
            raise ValueError(f"encoder id must be a non-empty string, got {self.model_id!r}")
        for name in ("token_dim", "embed_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"encoder {name} must be a positive integer, got {value!r}")
        grid = tuple(self.grid_hw)
        if len(grid) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in grid):
            raise ValueError(f"encoder grid_hw must be two positive integers, got {self.grid_hw!r}")
        object.__setattr__(self, "grid_hw", grid)

    @classmethod
    def from_encoder(cls, encoder: Any) -> EncoderInfo:
        """Read ``model_id``, ``token_dim``, ``embed_dim``, ``grid_hw`` off an ``OwlViTEncoder``."""
        return cls(encoder.model_id, encoder.token_dim, encoder.embed_dim, tuple(encoder.grid_hw))

    @property
    def name(self) -> str:
        """Last path component of the id: ``google/owlvit-base-patch32`` and a local
        ``.../owlvit-base-patch32`` directory name the same model."""
        return re.split(r"[/\\]", self.model_id.rstrip("/\\"))[-1]

    def to_json(self) -> dict[str, Any]:
        """The ``config.json["encoder"]`` block."""
        return {
            "id": self.model_id,
            "token_dim": self.token_dim,
            "embed_dim": self.embed_dim,
            "grid_hw": list(self.grid_hw),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EncoderInfo:
        """Inverse of :meth:`to_json`; ``ValueError`` on missing or invalid entries."""
        if not isinstance(data, Mapping):
            raise ValueError(f"'encoder' must be an object, got {type(data).__name__}")
        missing = [k for k in ("id", "token_dim", "embed_dim", "grid_hw") if k not in data]
        if missing:
            raise ValueError(f"'encoder' lacks {', '.join(missing)}")
        grid = data["grid_hw"]
        if not isinstance(grid, (list, tuple)):
            raise ValueError(f"encoder grid_hw must be a list [gh, gw], got {grid!r}")
        return cls(data["id"], data["token_dim"], data["embed_dim"], tuple(grid))


@dataclass(frozen=True)
class CheckpointInfo:
    """What ``config.json`` says about a loaded checkpoint.

    ``directory``: where the files were read (a Hub cache snapshot for a repo id).
    ``format_version``, ``promptcrop_version``: of the writer. ``preset``: name of the preset
    the decoder was built from, or None. ``encoder``: see :class:`EncoderInfo`.
    ``decoder``: the decoder's configuration. ``query_parts``: which phrases of a query the
    decoder was trained on (one of :data:`promptcrop.queries.QUERY_PARTS`; ``"both"`` for a
    checkpoint that does not record it) — pass it to :func:`promptcrop.queries.query_phrases`.
    """

    directory: Path
    format_version: int
    promptcrop_version: str
    preset: str | None
    encoder: EncoderInfo
    decoder: DecoderConfig
    query_parts: str = DEFAULT_QUERY_PARTS

    def __post_init__(self) -> None:
        require_choice("query_parts", self.query_parts, QUERY_PARTS)


# --------------------------------------------------------------------------- saving


def save_decoder(
    decoder: ClipCropDecoder,
    directory: str | Path,
    *,
    encoder_info: EncoderInfo,
    preset: str | None = None,
    query_parts: str = DEFAULT_QUERY_PARTS,
    overwrite: bool = False,
) -> Path:
    """Write ``decoder`` as a checkpoint directory and return its path.

    ``query_parts``: which phrases of a query the decoder was trained on (see
    :func:`promptcrop.queries.query_phrases`); recorded so that inference uses the same.

    Atomic: both files are written into a temporary sibling directory that is then renamed, so
    readers never see half a checkpoint. An existing non-empty ``directory`` is replaced only with
    ``overwrite=True`` and only if it holds a promptcrop decoder checkpoint; other files in it
    (a model card, logs) are kept. ``encoder_info.token_dim`` must equal the decoder's.
    """
    require_choice("query_parts", query_parts, QUERY_PARTS)
    if encoder_info.token_dim != decoder.config.token_dim:
        raise ValueError(
            f"encoder token_dim {encoder_info.token_dim} does not match the decoder's "
            f"token_dim {decoder.config.token_dim}"
        )
    target = Path(directory).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        state = {k: v.detach().to("cpu").contiguous() for k, v in decoder.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_NAME), metadata={"format": "pt"})
        config = _config_json(decoder.config, encoder_info, preset, query_parts)
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _install(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _config_json(
    config: DecoderConfig, encoder_info: EncoderInfo, preset: str | None, query_parts: str
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "promptcrop_version": __version__,
        "preset": preset,
        "encoder": encoder_info.to_json(),
        "decoder": config_to_dict(config),
        "query_parts": query_parts,
    }


def _install(staging: Path, target: Path, overwrite: bool) -> None:
    """Move the finished ``staging`` directory to ``target`` (see :func:`save_decoder`)."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(staging, target)
        return
    if not overwrite:
        raise CheckpointError(f"{target} already exists; pass overwrite=True to replace the checkpoint in it")
    if not _holds_checkpoint(target):
        raise CheckpointError(
            f"refusing to overwrite {target}: it is not a promptcrop decoder checkpoint directory"
        )
    backup = staging.with_name(staging.name + "-old")
    os.replace(target, backup)
    os.replace(staging, target)
    for extra in backup.iterdir():
        if extra.name not in (WEIGHTS_NAME, CONFIG_NAME):
            os.replace(extra, target / extra.name)
    shutil.rmtree(backup)


def _holds_checkpoint(directory: Path) -> bool:
    try:
        data = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


# --------------------------------------------------------------------------- loading


def load_decoder(
    dir_or_hub_id: str | Path,
    *,
    expected_encoder: EncoderInfo | Any = None,
    allow_encoder_mismatch: bool = False,
    device: str | torch.device = "cpu",
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
) -> tuple[ClipCropDecoder, CheckpointInfo]:
    """Load a decoder checkpoint from a local directory or a Hub repo id (``owner/name``).

    A path that is an existing directory is read as is; anything else that looks like
    ``owner/name`` is fetched with ``huggingface_hub.snapshot_download`` (``revision``,
    ``cache_dir``, ``local_files_only`` go to it). With ``expected_encoder`` (an
    :class:`EncoderInfo` or the ``OwlViTEncoder`` itself) the checkpoint must have been made for
    the same encoder (see :func:`check_encoder`). Returns the decoder in eval
    mode on ``device`` and the checkpoint's :class:`CheckpointInfo`.

    Raises :class:`CheckpointError` for missing files, malformed JSON, an unknown format version,
    tensor mismatches or another encoder; :class:`ModelUnavailableError` when a Hub id cannot be
    fetched (offline and not cached, no such repo).
    """
    directory = _resolve_directory(dir_or_hub_id, revision, cache_dir, local_files_only)
    info = read_checkpoint_info(directory)
    if expected_encoder is not None:
        if not isinstance(expected_encoder, EncoderInfo):
            expected_encoder = EncoderInfo.from_encoder(expected_encoder)
        check_encoder(info.encoder, expected_encoder, allow_id_mismatch=allow_encoder_mismatch,
                      source=str(directory / CONFIG_NAME))
    decoder = ClipCropDecoder(info.decoder)
    weights_path = directory / WEIGHTS_NAME
    state = _read_weights(weights_path, device)
    _check_state(decoder.state_dict(), state, weights_path)
    decoder.load_state_dict(state)
    return decoder.to(device).eval(), info


def read_checkpoint_info(directory: str | Path) -> CheckpointInfo:
    """Parse and validate ``<directory>/config.json``; :class:`CheckpointError` names the file."""
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise _missing_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a promptcrop decoder checkpoint (expected format {FORMAT!r})")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format_version {version!r} is not supported by promptcrop "
            f"{__version__} (it reads version {FORMAT_VERSION}); upgrade promptcrop or re-save the checkpoint"
        )
    try:
        return CheckpointInfo(
            directory=directory,
            format_version=version,
            promptcrop_version=str(data.get("promptcrop_version", "unknown")),
            preset=data.get("preset"),
            encoder=EncoderInfo.from_json(data.get("encoder")),
            decoder=config_from_dict(DecoderConfig, data.get("decoder")),
            query_parts=data.get("query_parts", DEFAULT_QUERY_PARTS),
        )
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid checkpoint config ({exc})") from exc


def check_encoder(
    saved: EncoderInfo, expected: EncoderInfo, *, allow_id_mismatch: bool = False, source: str = "checkpoint"
) -> None:
    """Refuse a checkpoint made for another encoder (:class:`CheckpointError` naming both).

    Token width, embedding width and grid must always match. The ids must name the same model —
    equal last path components, so a Hub id and a local copy in a directory of the same name
    agree — unless ``allow_id_mismatch`` (e.g. a fine-tuned encoder of the same architecture).
    """
    saved_shape = (saved.token_dim, saved.embed_dim, saved.grid_hw)
    expected_shape = (expected.token_dim, expected.embed_dim, expected.grid_hw)
    if saved_shape != expected_shape:
        raise CheckpointError(
            f"{source}: decoder was made for encoder {saved.model_id!r} (token_dim, embed_dim, grid) = "
            f"{saved_shape}, but the encoder in use {expected.model_id!r} has {expected_shape}"
        )
    if saved.name != expected.name and not allow_id_mismatch:
        raise CheckpointError(
            f"{source}: decoder was trained on encoder {saved.model_id!r}, but the encoder in use is "
            f"{expected.model_id!r}; load the matching encoder or pass allow_encoder_mismatch=True"
        )


def _resolve_directory(
    source: str | Path, revision: str | None, cache_dir: str | Path | None, local_files_only: bool
) -> Path:
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{source}: is a file; pass the checkpoint directory holding {CONFIG_NAME}")
    if not _HUB_ID.fullmatch(str(source)):
        raise CheckpointError(f"{source}: no such checkpoint directory")
    return _download(str(source), revision, cache_dir, local_files_only)


def _download(repo_id: str, revision: str | None, cache_dir: str | Path | None, local_files_only: bool) -> Path:
    """Fetch the two checkpoint files of Hub repo ``repo_id`` (or find them in the cache)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME],
        ))
    except RepositoryNotFoundError:
        reason = "no such repository on the Hub (or it is private and no token was given)"
    except LocalEntryNotFoundError:
        reason = "it is not in the local Hugging Face cache and the Hub cannot be reached (offline)"
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    raise ModelUnavailableError(
        f"decoder checkpoint {repo_id!r} is not a local directory and cannot be fetched from the "
        f"Hugging Face Hub: {reason}; download it while online or pass a local checkpoint directory"
    )


def _missing_file(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path}: missing; a decoder checkpoint directory holds {CONFIG_NAME} and {WEIGHTS_NAME}"
    )


def _read_weights(path: Path, device: str | torch.device) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise _missing_file(path)
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def _check_state(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], path: Path) -> None:
    """:class:`CheckpointError` naming ``path`` unless ``state`` has exactly the expected tensors."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        _listed(label, items)
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if items
    ]
    if problems:
        raise CheckpointError(f"{path}: tensors do not match the config.json decoder: {'; '.join(problems)}")


def _listed(label: str, items: list[str], limit: int = 5) -> str:
    return f"{label} {', '.join(items[:limit])}" + (" ..." if len(items) > limit else "")
