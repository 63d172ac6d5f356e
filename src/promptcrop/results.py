"""The public result types every front end (CLI, batch, service, Python API) receives.

Boxes here are always **xyxy pixels of the original, EXIF-upright image** (x2/y2 exclusive).

**The record.** The JSON record of one prediction — the one form every front end returns or writes.

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

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

import numpy as np
from PIL import Image

from promptcrop import __version__
from promptcrop.errors import InternalError

ORIGINAL_RATIO = "original"
"""Ratio label of crops made at the image's own ratio (no ratio asked, composer modes)."""
FREE_RATIO = "free"
"""Ratio label of the decoder's free-ratio crops (clipcrop mode, no ratio asked)."""


@dataclass(frozen=True)
class CropResult:
    """One crop.

    - ``box``: ``(x1, y1, x2, y2)`` int pixels of the upright image. Inside the image, except when
      ``padded`` is True: then the box may extend past the image and the outside is filled with
      ``pad_color`` (letterboxing).
    - ``score``: quality in [0, 1] (decoder score or composition score); ``rank``: 1 = best among the
      crops of the same ``aspect``.
    - ``aspect``: the width/height ratio the crop was made at (``None`` = free ratio from the decoder).
    - ``ratio``: the caller's label for that ratio — ``"16:9"`` as typed, ``"original"`` (the
      image's own ratio), ``"free"`` (decoder boxes), or the exact size asked (``"1080x1350"``).
    - ``mode``: ``"clipcrop"`` (trained decoder), ``"zeroshot"`` (OWL-ViT grounding + composer) or
      ``"offline"`` (saliency + composer, no weights).
    - ``fits``: False when what the crop was built to keep — the caller's focus boxes and the
      region (grounded or salient) or the decoder's box — could not all fit in a crop of this
      ratio (then the crop still holds the focus boxes when they fit).
    - ``output_size``: ``(W, H)`` the crop is resized to by :meth:`apply`, when an exact size was asked.
    - ``terms``: per-term score breakdown (composer modes), for ``--explain``.
    """

    box: tuple[int, int, int, int]
    score: float
    rank: int
    aspect: float | None
    mode: str
    fits: bool = True
    padded: bool = False
    pad_color: tuple[int, int, int] | None = None
    output_size: tuple[int, int] | None = None
    terms: dict[str, float] | None = None
    ratio: str = ""

    def __post_init__(self) -> None:
        if not self.ratio:
            label = FREE_RATIO if self.aspect is None else f"{self.aspect:.6g}"
            object.__setattr__(self, "ratio", label)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    def apply(self, image: np.ndarray | Image.Image) -> Image.Image:
        """Cut this crop out of the upright RGB image (``[H, W, 3]`` uint8 or PIL), padding with
        ``pad_color`` where the box leaves the image, and resizing to ``output_size`` if set."""
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        x1, y1, x2, y2 = self.box
        if self.padded or x1 < 0 or y1 < 0 or x2 > pil.width or y2 > pil.height:
            canvas = Image.new(pil.mode, (x2 - x1, y2 - y1), self.pad_color or (0, 0, 0))
            canvas.paste(pil, (-x1, -y1))
            out = canvas
        else:
            out = pil.crop(self.box)
        if self.output_size is not None and out.size != tuple(self.output_size):
            out = out.resize(tuple(self.output_size), Image.Resampling.LANCZOS)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = list(self.box)
        return d


@dataclass(frozen=True)
class GroundedBox:
    """A phrase of the query and the image region OWL-ViT matched to it (xyxy float pixels)."""

    phrase: str
    box: tuple[float, float, float, float]
    logit: float

    def to_dict(self) -> dict[str, Any]:
        return {"phrase": self.phrase, "box": [round(v, 2) for v in self.box], "logit": self.logit}


@dataclass
class Prediction(Sequence[CropResult]):
    """What :meth:`Predictor.predict` returns: a sequence of :class:`CropResult` sorted by aspect
    (in the order requested) then rank, plus what explains it.

    - ``image_size``: ``(W, H)`` of the upright image; ``mode``: the mode that ran.
    - ``region``: the xyxy pixel region the crops were built to keep (grounded union box,
      salient region, or the whole image), ``None`` for the decoder's free boxes.
    - ``grounding``: one :class:`GroundedBox` per query phrase (empty without weights).
    - ``truncated``: phrases cut to the text model's 16 positions.
    - ``timings``: seconds per stage.
    - ``exif_orientation``: the input's EXIF orientation tag (1 = upright as stored).
    - ``query_image``: how the query image was named, when one conditioned the crops.
    - ``fallback``: ``None``, or what replaced a degenerate model output (see the Predictor).
    - ``versions``: promptcrop's version and the weights used (:func:`promptcrop.results.versions`).
    - ``faces``: xyxy pixel boxes the crops were composed to keep whole or leave out whole — faces
      (detected, or face-like skin blobs without the face detector) and the estimated heads of
      people whose face was not seen; empty for the decoder's free boxes and for a query that
      names what to keep. Held in memory only: the JSON record does not carry them.
    """

    crops: list[CropResult]
    image_size: tuple[int, int]
    mode: str
    query: str | None = None
    phrases: tuple[str, ...] = ()
    region: tuple[float, float, float, float] | None = None
    grounding: list[GroundedBox] = field(default_factory=list)
    truncated: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    exif_orientation: int = 1
    query_image: str | None = None
    fallback: str | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    faces: tuple[tuple[float, float, float, float], ...] = ()

    @overload
    def __getitem__(self, i: int) -> CropResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[CropResult]: ...
    def __getitem__(self, i):  # type: ignore[override]
        return self.crops[i]

    def __len__(self) -> int:
        return len(self.crops)

    def __iter__(self) -> Iterator[CropResult]:
        return iter(self.crops)

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of this prediction, without file names
        (:func:`build_record`)."""
        return build_record(self)


# ---------------------------------------------------------------------- the record


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
