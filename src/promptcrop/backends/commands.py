"""``promptcrop export-onnx`` (registered by :mod:`promptcrop.cli`); ``crop``, ``batch`` and ``serve``
take ``--backend onnx --onnx-dir DIR`` (:mod:`promptcrop.cli.options`).

::

    promptcrop export-onnx [--model ID|DIR] [--decoder DIR|ID] --out DIR [--int8]
                           [--check PHOTO ...] [--check-query TEXT] [--overwrite] [--offline]

Prints one line per exported graph with its difference to PyTorch, the directory written and,
with ``--check``, one line per photo and a summary of how far the exported backend moves what
the Predictor computes (features cosine, grounded-token agreement, top-1 crop IoU).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``export-onnx`` sub-command to ``subparsers``; its handler is :func:`run_export`."""
    p = subparsers.add_parser(
        "export-onnx", help="export OWL-ViT (and a decoder) to ONNX for the onnx backend",
        description="Export the OWL-ViT image side with its heads, the text tower and (with --decoder) "
                    "the ClipCrop decoder as ONNX graphs plus a manifest, compare them with PyTorch "
                    "and write DIR only when they agree. Use it with `crop/batch --backend onnx "
                    "--onnx-dir DIR`.",
    )
    from promptcrop.config import DEFAULT_MODEL_ID  # typed config: not needed by --help or crop/batch parsers

    p.add_argument("--model", default=DEFAULT_MODEL_ID, metavar="ID|DIR",
                   help=f"OWL-ViT hub id or local directory (default {DEFAULT_MODEL_ID})")
    p.add_argument("--decoder", metavar="DIR|ID", help="ClipCrop decoder checkpoint to export too")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write")
    p.add_argument("--int8", action="store_true",
                   help="quantise the weights to int8 (onnxruntime quantize_dynamic): smaller and faster on CPUs")
    p.add_argument("--check", nargs="+", metavar="PHOTO",
                   help="after exporting, measure on these photos how far the ONNX backend moves the "
                        "outputs from PyTorch float32 (features cosine, grounded-token agreement, "
                        "top-1 crop IoU)")
    p.add_argument("--check-query", metavar="TEXT",
                   help="the query of the --check crops and grounding (default: unconditioned crops, "
                        "grounding of generic prompts)")
    p.add_argument("--json", action="store_true", help="print the --check report as one JSON object")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    p.add_argument("--offline", action="store_true", help="never download weights (local/cached only)")
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.set_defaults(handler=run_export, parser=p)
    return p


def run_export(args: argparse.Namespace) -> int:
    """The ``export-onnx`` command; returns the exit code (0)."""
    from promptcrop.backends.export import ExportConfig, check_photos, export_onnx, load_check_photos

    photos = load_check_photos(args.check) if args.check else []  # bad photos fail before exporting
    result = export_onnx(
        args.model, args.out, decoder=args.decoder, config=ExportConfig(int8=args.int8),
        local_files_only=args.offline, overwrite=args.overwrite, log=lambda line: print(line, flush=True),
    )
    manifest = result.manifest
    print(f"wrote {result.directory}: {', '.join(manifest.files)} graphs, "
          f"{manifest.quantization or 'float32'}, opset {manifest.opset}, {result.size_bytes / 1e6:.1f} MB",
          flush=True)
    if photos:
        report = check_photos(
            result.directory, photos, model=args.model, decoder=args.decoder, query=args.check_query,
            local_files_only=args.offline,
        )
        if args.json:
            print(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            for line in report.lines():
                print(line)
    return 0
