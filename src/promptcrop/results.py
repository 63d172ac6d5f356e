"""The public result types every front end (CLI, batch, service, Python API) receives.

Boxes here are always **xyxy pixels of the original, EXIF-upright image** (x2/y2 exclusive).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

import numpy as np
from PIL import Image

MODES = ("clipcrop", "zeroshot", "offline")


@dataclass(frozen=True)
class CropResult:
    """One crop.

    - ``box``: ``(x1, y1, x2, y2)`` int pixels of the upright image. Inside the image, except when
      ``padded`` is True: then the box may extend past the image and the outside is filled with
      ``pad_color`` (letterboxing).
    - ``score``: quality in [0, 1] (decoder score or composition score); ``rank``: 1 = best among the
      crops of the same ``aspect``.
    - ``aspect``: the requested width/height ratio (``None`` = free ratio from the decoder).
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
        return {
            "image_size": list(self.image_size),
            "mode": self.mode,
            "query": self.query,
            "phrases": list(self.phrases),
            "region": None if self.region is None else [round(v, 2) for v in self.region],
            "grounding": [g.to_dict() for g in self.grounding],
            "truncated": list(self.truncated),
            "crops": [c.to_dict() for c in self.crops],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
