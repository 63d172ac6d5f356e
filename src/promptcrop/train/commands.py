"""``promptcrop train`` and ``promptcrop finetune-encoder``: argument parsing and the commands.

Registered by :mod:`promptcrop.cli` (``add_train_parser`` / ``add_finetune_parser``); each sets
``args.handler`` (:func:`run_train` / :func:`run_finetune`) and ``args.parser``::

    promptcrop train --data-root DIR --text-labels DIR [--preset paper] [--config FILE]
                     [--out DIR] [--resume] [--encoder ID|DIR] [--device cpu|cuda]
                     [--max-steps N] [--skip-bad] [--cache-images] [--offline] [--quiet]

    promptcrop finetune-encoder --data-root DIR --model ID|DIR --out DIR [--config FILE]
                     [--split train] [--val-split val] [--device cpu|cuda] [--max-minutes M]
                     [--anneal-by-deadline] [--cache-images] [--attention sdpa|eager]
                     [--offline] [--quiet]

``train`` trains the ClipCrop decoder on a GAIC-layout folder (``images/``, ``annotations/``) with
the caption folder of ``--text-labels``; the run folder ``--out`` receives the resolved config, the
metrics log, checkpoints and the final decoder (see :mod:`promptcrop.train.engine`).
``finetune-encoder`` fine-tunes OWL-ViT's grounding on ``<data-root>/objects/<split>.json``
phrase-box files (see :mod:`promptcrop.train.finetune`) and saves the model to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptcrop.errors import PromptcropError
from promptcrop.train.config import PRESETS, TrainConfig, load_train_config, merge_overrides

if TYPE_CHECKING:  # torch, transformers and the training stack are imported when a command runs
    from promptcrop.data.gaic import GaicDataset
    from promptcrop.train.engine import TrainResult
    from promptcrop.train.finetune import FinetuneConfig

DEFAULT_RUN_DIR = "promptcrop-run"


def _device(args: argparse.Namespace) -> str:
    """``--device``, or cuda when available, else cpu."""
    if args.device is not None:
        return args.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    p.add_argument("--offline", action="store_true", help="never download weights (local/cached only)")
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- train


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "train", help="train the ClipCrop decoder on GAIC-format data",
        description="Train the ClipCrop decoder (paper Appendix B with --preset paper) on a GAIC-layout "
                    "folder with captions. The run folder keeps config.json, metrics.jsonl, resume state "
                    "and the decoder checkpoints (decoder/, decoder-best/).",
    )
    p.add_argument("--data-root", required=True, metavar="DIR",
                   help="folder holding images/{train,val,test} and annotations/{train,val,test}")
    p.add_argument("--text-labels", metavar="DIR|FILE",
                   help="caption folder (train.json, valid.json, test.json); required unless the "
                        "config trains the unconditioned ClipCrop-base (conditioned: false)")
    p.add_argument("--preset", default="paper", choices=tuple(PRESETS),
                   help="training preset the config file overrides (default paper = Appendix B)")
    p.add_argument("--config", metavar="FILE",
                   help='JSON object of config overrides, e.g. {"epochs": 20, "optim": {"lr": 2e-4}}')
    p.add_argument("--out", default=DEFAULT_RUN_DIR, metavar="DIR",
                   help=f"run folder (default ./{DEFAULT_RUN_DIR}/)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out exactly where it stopped (its own config.json "
                        "is used unless --config/--preset change nothing)")
    p.add_argument("--encoder", metavar="ID|DIR",
                   help="OWL-ViT hub id or directory (overrides model.encoder_id)")
    p.add_argument("--max-steps", type=int, metavar="N",
                   help="stop after N optimiser steps in total, saving the resume state")
    p.add_argument("--skip-bad", action="store_true", help="leave out malformed samples instead of stopping")
    _add_cache_images(p)
    _add_common(p)
    p.set_defaults(handler=run_train, parser=p)
    return p


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The resolved config: preset, then the run folder's own ``config.json`` when resuming without
    ``--config``, then ``--config``, then ``--encoder``."""
    from promptcrop.train.engine import RunPaths

    overrides: dict[str, Any] = {}
    if args.encoder:
        overrides = {"model": {"encoder_id": args.encoder}}
    saved = RunPaths(Path(args.out)).config
    if args.resume and args.config is None and saved.is_file():
        return load_train_config(saved, preset=args.preset, overrides=overrides)
    return load_train_config(args.config, preset=args.preset, overrides=overrides)


def _add_cache_images(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-images", action="store_true",
                   help="decode the training images once and keep them in memory (H x W x 3 bytes each)")


def _split(
    root: Path, split: str, text_labels: str | None, skip_bad: bool, cache_images: bool = False
) -> GaicDataset | None:
    from promptcrop.data.gaic import GaicDataset

    if split == "val" and not (root / "images" / "val").is_dir():
        return None
    return GaicDataset(root, split, text_labels=text_labels, skip_bad=skip_bad, cache_images=cache_images)


def run_train(args: argparse.Namespace) -> int:
    """Run ``promptcrop train``; returns 0. Bad data, options or checkpoints raise."""
    if args.max_steps is not None and args.max_steps < 1:
        raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
    config = train_config_from_args(args)
    if config.conditioned and not args.text_labels:
        raise PromptcropError(
            "--text-labels is required to train the conditioned ClipCrop (or set "
            '"conditioned": false in --config to train ClipCrop-base)'
        )
    text_labels = args.text_labels if config.conditioned else None
    root = Path(args.data_root)
    train_set = _split(root, "train", text_labels, args.skip_bad, args.cache_images)
    val_set = _split(root, "val", text_labels, args.skip_bad)
    for split in (s for s in (train_set, val_set) if s is not None and s.skipped):
        print(f"skipped {len(split.skipped)} bad sample(s) of the {split.split} split")
    from promptcrop.model.encoder import OwlViTEncoder
    from promptcrop.train.dataset import CropTrainDataset
    from promptcrop.train.engine import Trainer

    encoder = OwlViTEncoder.from_pretrained(config.model.encoder_id, local_files_only=args.offline)
    trainer = Trainer(
        config, encoder, CropTrainDataset(train_set, config.augment, config.seed), args.out,
        val_data=None if val_set is None else CropTrainDataset(val_set, None, config.seed),
        device=_device(args), progress=not args.quiet, preset=args.preset if args.config is None else None,
    )
    print(_summary(trainer.fit(resume=args.resume, max_steps=args.max_steps), config))
    return 0


def _summary(result: TrainResult, config: TrainConfig) -> str:
    pos = result.position
    state = "finished" if result.finished else f"stopped in epoch {pos.epoch + 1}"
    lines = [
        f"{state}: {pos.epoch}/{config.epochs} epochs, {pos.step} optimiser steps; "
        f"run folder {result.run_dir}"
    ]
    if result.train:
        lines.append(f"last train loss {result.train['loss']:.4f}")
    if result.val:
        v = result.val
        lines.append(
            f"validation: loss {v['loss']:.4f}, Acc1/5 {100 * v['acc1_5']:.1f}, "
            f"Acc1/10 {100 * v['acc1_10']:.1f}"
        )
    if result.decoder_dir is not None:
        lines.append(f"decoder checkpoint: {result.decoder_dir}")
    if not result.finished:
        lines.append("continue with --resume")
    return "\n".join(lines)


# --------------------------------------------------------------------------- finetune-encoder


def add_finetune_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``finetune-encoder`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "finetune-encoder", help="fine-tune OWL-ViT's grounding on phrase-box data",
        description="Fine-tune OWL-ViT (any size) for grounding on <data-root>/objects/<split>.json "
                    "(images with phrase + box per object) and save it with save_pretrained, so "
                    "--model/--encoder DIR load it.",
    )
    p.add_argument("--data-root", required=True, metavar="DIR", help="folder holding objects/<split>.json")
    p.add_argument("--model", required=True, metavar="ID|DIR", help="the OWL-ViT to start from")
    p.add_argument("--out", required=True, metavar="DIR", help="where the fine-tuned model is saved")
    p.add_argument("--config", metavar="FILE", help="JSON object of FinetuneConfig overrides")
    p.add_argument("--split", default="train", choices=("train", "val", "test"),
                   help="training split (default train)")
    p.add_argument("--val-split", default="val", choices=("train", "val", "test"),
                   help="split evaluated after each epoch when its file exists (default val)")
    p.add_argument("--max-minutes", type=float, metavar="M", help="stop after M minutes (then save)")
    p.add_argument("--anneal-by-deadline", action="store_true",
                   help="with --max-minutes: the learning-rate schedule also follows the clock, so the "
                        "run ends at min_lr when the minutes are up even if its epochs are not done")
    _add_cache_images(p)
    p.add_argument("--attention", choices=("sdpa", "eager"),
                   help="attention kernel (default: transformers' choice, sdpa; eager is faster for "
                        "tiny models on a CPU)")
    _add_common(p)
    p.set_defaults(handler=run_finetune, parser=p)
    return p


def finetune_config_from_file(path: str | None) -> FinetuneConfig:
    """Defaults overridden by the JSON object in ``path`` (ValueError naming the file)."""
    from promptcrop.train.finetune import FinetuneConfig

    if path is None:
        return FinetuneConfig()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the fine-tuning config ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the fine-tuning config must be a JSON object")
    try:
        return FinetuneConfig.from_dict(merge_overrides(FinetuneConfig().to_dict(), data))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fine-tuning config: {exc}") from None


def run_finetune(args: argparse.Namespace) -> int:
    """Run ``promptcrop finetune-encoder``; returns 0."""
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise ValueError(f"--max-minutes must be > 0, got {args.max_minutes}")
    if args.anneal_by_deadline and args.max_minutes is None:
        raise ValueError("--anneal-by-deadline needs --max-minutes")
    from promptcrop.data.datasets import load_phrase_boxes
    from promptcrop.model.encoder import OwlViTEncoder
    from promptcrop.train.finetune import GroundingFinetuner

    config = finetune_config_from_file(args.config)
    objects = Path(args.data_root) / "objects"
    train_set = load_phrase_boxes(objects / f"{args.split}.json")
    val_path = objects / f"{args.val_split}.json"
    val_set = load_phrase_boxes(val_path) if val_path.is_file() and args.val_split != args.split else None
    encoder = OwlViTEncoder.from_pretrained(args.model, local_files_only=args.offline,
                                            attn_implementation=args.attention)
    result = GroundingFinetuner(
        encoder, train_set, config, args.out, val_set=val_set, device=_device(args),
        progress=not args.quiet, max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
        cache_images=args.cache_images, anneal_by_deadline=args.anneal_by_deadline,
    ).fit()
    line = f"fine-tuned {result.steps} steps; model saved to {result.out_dir}"
    if result.val is not None:
        line += f"; validation grounding acc@0.5 {100 * result.val['acc50']:.1f}%"
    print(line)
    return 0
