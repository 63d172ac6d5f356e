"""The public result types every front end (CLI, batch, service, Python API) receives.

Boxes here are always **xyxy pixels of the original, EXIF-upright image** (x2/y2 exclusive).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

import numpy as np
from PIL import Image

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
    - ``fits``: False when the region to keep could not fit inside a crop of this ratio.
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
    - ``versions``: promptcrop's version and the weights used (:func:`promptcrop.records.versions`).
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
        (:func:`promptcrop.records.build_record`)."""
        from promptcrop.records import build_record

        return build_record(self)
