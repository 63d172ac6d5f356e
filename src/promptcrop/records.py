"""The JSON record of one prediction — the one form every front end returns or writes.

The CLI and the batch runner write it beside the crop files, the service returns it, the Ray
engine stores it row by row, :meth:`Prediction.to_dict` gives it to Python callers. Only this
module builds it. Layout (``RECORD_SCHEMA`` 1; boxes are xyxy pixels of the EXIF-upright image):

- ``schema``, ``input`` (the input as the caller named it, or ``null``), ``image_size`` ``[W, H]``,
  ``exif_orientation`` (1–8), ``query``, ``query_image``, ``mode`` (``clipcrop`` | ``zeroshot`` |
  ``offline``), ``region`` (the box the crops were built to keep, or ``null``), ``phrases``,
  ``truncated``, ``grounding`` (``[{phrase, box, logit}]``), ``fallback`` (``null``, or what was
  used instead of a degenerate model output);
- ``crops``: ``[{rank, ratio, box, score, size, fits, padded, pad_color?, file?, explain?}]`` —
  ``ratio`` is the caller's label (``"16:9"``, ``"original"``, ``"free"``, ``"1080x1350"``),
  ``size`` the ``[W, H]`` of the crop as written (the exact output size when one was asked);
- ``overlay`` (only when files were written), ``timings`` (seconds per stage), ``versions``
  (promptcrop, model, decoder), ``fingerprint`` (only when a writer gives one).

With ``files=None`` no crop has a ``file`` key and the record has no ``overlay`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptcrop import __version__
from promptcrop.errors import InternalError
from promptcrop.results import CropResult, Prediction

RECORD_SCHEMA = 1
"""Version of the record layout; bumped on incompatible changes."""


def versions(model_id: str | None, decoder_id: str | None, mode: str) -> dict[str, Any]:
    """What produced a prediction: promptcrop's version and the weights the ``mode`` used."""
    return {
        "promptcrop": __version__,
        "model": None if mode == "offline" else model_id,
        "decoder": decoder_id if mode == "clipcrop" else None,
    }


def crop_pixel_size(crop: CropResult) -> tuple[int, int]:
    """``(W, H)`` of the crop as written: the requested output size, else the box size."""
    if crop.output_size is not None:
        return (int(crop.output_size[0]), int(crop.output_size[1]))
    return (crop.width, crop.height)


def build_record(
    prediction: Prediction,
    *,
    input: str | None = None,  # noqa: A002 - the record's field name
    files: Sequence[str] | None = None,
    overlay: str | None = None,
    explain: bool = False,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """The record of ``prediction`` (see the module docstring for the layout).

    Args:
        input: how the caller named the input (a path, a file name, an id).
        files: one file name per crop of ``prediction`` (same order), relative to the record's
            folder; ``None`` when no file was written.
        overlay: the overlay's file name, when one was written.
        explain: add each crop's score breakdown (composer modes).
        fingerprint: identifies the input and the options (batch resume).
    """
    if files is not None and len(files) != len(prediction):
        raise InternalError(f"{len(files)} file names for {len(prediction)} crops")
    names: Sequence[str | None] = files if files is not None else [None] * len(prediction)
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "input": input,
        "image_size": list(prediction.image_size),
        "exif_orientation": prediction.exif_orientation,
        "query": prediction.query,
        "query_image": prediction.query_image,
        "mode": prediction.mode,
        "region": None if prediction.region is None else [round(v, 2) for v in prediction.region],
        "phrases": list(prediction.phrases),
        "truncated": list(prediction.truncated),
        "grounding": [g.to_dict() for g in prediction.grounding],
        "fallback": prediction.fallback,
        "crops": [_crop_entry(c, name, explain) for c, name in zip(prediction, names)],
    }
    if files is not None:
        record["overlay"] = overlay
    record["timings"] = {k: round(v, 4) for k, v in prediction.timings.items()}
    record["versions"] = dict(prediction.versions or versions(None, None, prediction.mode))
    if fingerprint is not None:
        record["fingerprint"] = fingerprint
    return record


def _crop_entry(crop: CropResult, file_name: str | None, explain: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rank": crop.rank,
        "ratio": crop.ratio,
        "box": list(crop.box),
        "score": round(float(crop.score), 6),
        "size": list(crop_pixel_size(crop)),
        "fits": crop.fits,
        "padded": crop.padded,
    }
    if crop.padded:
        entry["pad_color"] = list(crop.pad_color or (0, 0, 0))
    if file_name is not None:
        entry["file"] = file_name
    if explain:
        entry["explain"] = {k: round(float(v), 6) for k, v in (crop.terms or {}).items()}
    return entry
