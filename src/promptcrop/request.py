"""What a caller asks of one image: :class:`CropRequest`, validated once at the boundary.

Front ends (the CLI, the batch manifests, the service, the Ray engine, the Python API) translate
their syntax into a :class:`CropRequest` (or :meth:`CropRequest.build` from user-facing text such
as ``"16:9"`` and ``"1080x1350"``) and map its :class:`~promptcrop.errors.RequestError` to their
own error form; nothing below the request re-checks what it holds.

:class:`RequestLimits` bounds every dimension of a request (ratios, ``k``, the number of ratios
and exclude phrases, the query's length, every output canvas); the
:class:`~promptcrop.Predictor` holds one and checks each request against it, so a Python caller
meets the same bounds as the service's clients. Boxes are ``[N, 4]`` xyxy
pixels of the EXIF-upright input image (:func:`parse_boxes` is the one parser of caller boxes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from promptcrop import boxes as B
from promptcrop.errors import RequestError
from promptcrop.images import DEFAULT_MAX_PIXELS
from promptcrop.results import ORIGINAL_RATIO

# The user-facing messages of a request, each written once; front ends map the RequestError
# (or ModelUnavailableError) to their own form and may add their own hint, never reword it.
QUERY_AND_IMAGE = "give a text query or a query image, not both"
ASPECT_AND_SIZE = "give either an aspect ratio or an exact size, not both"
EXCLUDE_NEEDS_WEIGHTS = "exclude needs the OWL-ViT weights to find what to leave out"
EMPTY_ASPECTS = "empty list of aspect ratios"

DEFAULT_MAX_RATIO = 20.0
DEFAULT_MAX_K = 20
DEFAULT_MAX_RATIOS = 16
DEFAULT_MAX_EXCLUDE = 8
DEFAULT_MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class RequestLimits:
    """Bounds on every dimension of one request; each refusal a :class:`RequestError` naming the
    field and the limit (the service's ``422``).

    - ``max_ratio``: ratios between ``1:max_ratio`` and ``max_ratio:1`` (an exact size's too);
    - ``max_k``: crops per ratio; ``max_ratios``: ratios per request;
    - ``max_exclude``: exclude phrases; ``max_query_chars``: characters of a text query;
    - ``max_pixels``: pixels of every output canvas — an exact output size, and the canvas of a
      crop padded with ``fit="pad"`` (checked where the padded box is made, :meth:`check_canvas`).
    """

    max_ratio: float = DEFAULT_MAX_RATIO
    max_k: int = DEFAULT_MAX_K
    max_ratios: int = DEFAULT_MAX_RATIOS
    max_exclude: int = DEFAULT_MAX_EXCLUDE
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if isinstance(self.max_ratio, bool) or not isinstance(self.max_ratio, (int, float)) or not self.max_ratio >= 1:
            raise ValueError(f"max_ratio must be a number >= 1, got {self.max_ratio!r}")
        for name in ("max_k", "max_ratios", "max_exclude", "max_query_chars", "max_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def check(self, request: CropRequest) -> None:
        """Refuse a request beyond the limits (everything but padded canvases, which depend on
        the image: :meth:`check_canvas`)."""
        _at_most("k", request.k, self.max_k, "crops per ratio")
        _at_most("aspect", len(request.aspects), self.max_ratios, "ratios")
        _at_most("exclude", len(request.exclude), self.max_exclude, "phrases")
        field_name = "aspect" if request.output_size is None else "size"
        for aspect in request.aspects:
            if aspect.value is not None and not 1 / self.max_ratio <= aspect.value <= self.max_ratio:
                raise RequestError(f"{field_name}: ratio {aspect.label} is beyond the limit of "
                                   f"1:{self.max_ratio:g} to {self.max_ratio:g}:1")
        if request.output_size is not None:
            self.check_canvas("size", *request.output_size)

    def check_query(self, query: str | None) -> None:
        """Refuse a text query longer than ``max_query_chars``."""
        if query is not None:
            _at_most("query", len(query), self.max_query_chars, "characters")

    def check_canvas(self, field_name: str, width: int, height: int) -> None:
        """Refuse an output canvas of more than ``max_pixels``."""
        if width * height > self.max_pixels:
            raise RequestError(
                f"{field_name}: the output canvas {width}x{height} has {width * height:,} pixels, "
                f"above the limit of {self.max_pixels:,}")


def _at_most(field_name: str, value: int, limit: int, unit: str) -> None:
    if value > limit:
        raise RequestError(f"{field_name}: {value:,} {unit} is above the limit of {limit:,}")


@dataclass(frozen=True)
class AspectRatio:
    """One requested ratio: ``value`` = width / height (``None`` = no ratio asked: the image's
    own in the composer modes, the decoder's free boxes in clipcrop) and the caller's ``label``."""

    value: float | None
    label: str


ORIGINAL = AspectRatio(None, ORIGINAL_RATIO)


@dataclass(frozen=True)
class CropRequest:
    """What the caller asks of one image, validated once (:class:`RequestError` otherwise).

    ``aspects``: the ratios in request order, each with the caller's label (floats are accepted
    and labelled by their value). ``output_size``: exact ``(W, H)`` output. ``focus`` / ``avoid``:
    ``[N, 4]`` xyxy pixel boxes to keep / to exclude when possible. ``exclude``: descriptions of
    what to leave out ("the watermark"), grounded by OWL-ViT into avoid boxes (needs the weights).
    """

    k: int = 5
    aspects: tuple[AspectRatio, ...] = (ORIGINAL,)
    output_size: tuple[int, int] | None = None
    fit: str = "crop"
    focus: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    avoid: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise RequestError(f"k must be a positive integer, got {self.k!r}")
        if self.fit not in ("crop", "pad"):
            raise RequestError(f"fit must be 'crop' or 'pad', got {self.fit!r}")
        aspects = tuple(_as_aspect(a) for a in self.aspects)
        if not aspects:
            raise RequestError(EMPTY_ASPECTS)
        object.__setattr__(self, "aspects", aspects)
        for name in ("focus", "avoid"):
            object.__setattr__(self, name, parse_boxes(name, getattr(self, name)))
        object.__setattr__(self, "exclude", _phrases("exclude", self.exclude))

    @classmethod
    def build(
        cls,
        *,
        k: int = 5,
        aspect: float | str | Sequence[float | str] | None = None,
        size: tuple[int, int] | str | None = None,
        fit: str = "crop",
        focus: Any = (),
        avoid: Any = (),
        exclude: str | Sequence[str] = (),
    ) -> CropRequest:
        """Parse user-facing arguments (``"16:9"``, ``"1080x1350"``...) into a request.

        Ratios keep the caller's text as their label; two labels of the same ratio keep the first.
        """
        output_size = parse_size(size) if size is not None else None
        if output_size is not None:
            if aspect is not None:
                raise RequestError(ASPECT_AND_SIZE)
            label = f"{output_size[0]}x{output_size[1]}"
            aspects: tuple[AspectRatio, ...] = (AspectRatio(output_size[0] / output_size[1], label),)
        elif aspect is None:
            aspects = (ORIGINAL,)
        else:
            items = [aspect] if isinstance(aspect, (str, int, float)) else list(aspect)
            if not items:
                raise RequestError(EMPTY_ASPECTS)
            by_value: dict[float, AspectRatio] = {}
            for item in items:
                parsed = _as_aspect(item)
                by_value.setdefault(parsed.value, parsed)  # type: ignore[arg-type]
            aspects = tuple(by_value.values())
        return cls(k=k, aspects=aspects, output_size=output_size, fit=fit, focus=focus, avoid=avoid,
                   exclude=exclude)

    def with_aspects(self, labels: Sequence[str] | None) -> CropRequest:
        """The same request at other ratios (``None`` or empty: unchanged)."""
        if not labels:
            return self
        if self.output_size is not None:
            raise RequestError(ASPECT_AND_SIZE)
        fresh = CropRequest.build(k=self.k, aspect=list(labels), fit=self.fit)
        return CropRequest(k=self.k, aspects=fresh.aspects, output_size=None, fit=self.fit,
                           focus=self.focus, avoid=self.avoid, exclude=self.exclude)

    @property
    def labels(self) -> tuple[str, ...]:
        """The ratio labels, in request order."""
        return tuple(a.label for a in self.aspects)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (fingerprints, service echoes)."""
        return {
            "k": self.k, "ratios": list(self.labels),
            "size": None if self.output_size is None else list(self.output_size), "fit": self.fit,
            "focus": self.focus.tolist(), "avoid": self.avoid.tolist(), "exclude": list(self.exclude),
        }


def check_condition(queries: Sequence[str | None], query_image: Any) -> None:
    """A text query or a query image conditions the crops, never both (RequestError)."""
    if query_image is not None and any(q is not None for q in queries):
        raise RequestError(QUERY_AND_IMAGE)


def _as_aspect(item: Any) -> AspectRatio:
    if isinstance(item, AspectRatio):
        return item
    if item is None:
        return ORIGINAL
    label = f"{float(item):g}" if isinstance(item, (int, float)) and not isinstance(item, bool) else str(item).strip()
    if not _plain_ascii(label):
        raise RequestError(f"invalid aspect ratio {label!r}: expected W:H in ASCII digits, e.g. 16:9")
    return AspectRatio(B.parse_aspect_ratio(item), label)


def _plain_ascii(text: str) -> bool:
    """Printable ASCII only: the digits of ratios and sizes (Python's float() and int() would also
    take other scripts' digits, and the text may be echoed back)."""
    return text.isascii() and text.isprintable()


def parse_boxes(name: str, boxes: Any) -> np.ndarray:
    """The one parser of caller boxes: ``[N, 4]`` float64 xyxy pixels from rows of four numbers
    or from texts ``"x1,y1,x2,y2"`` (the command line's and the service's syntax); a
    :class:`RequestError` naming ``name`` when one is malformed, not finite or empty."""
    items = [boxes] if isinstance(boxes, str) else boxes
    if not isinstance(items, np.ndarray) and any(isinstance(item, str) for item in items):
        items = [_box_text(name, item) for item in items]
    try:
        arr = np.asarray(items, dtype=np.float64).reshape(-1, 4)
    except (ValueError, TypeError):
        raise RequestError(f"{name} boxes must be lists of four numbers x1,y1,x2,y2, got {boxes!r}") from None
    if arr.size and not np.isfinite(arr).all():
        raise RequestError(f"{name} boxes must be finite numbers, got {arr.tolist()}")
    if arr.size and ((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])).any():
        raise RequestError(f"{name} boxes need x2 > x1 and y2 > y1, got {arr.tolist()}")
    return arr


def _box_text(name: str, text: Any) -> list[float]:
    """``"x1,y1,x2,y2"`` (spaces allowed) → four floats; RequestError naming ``name`` otherwise."""
    try:
        values = [float(v) for v in str(text).replace(" ", "").split(",") if v] if str(text).isascii() else []
    except ValueError:
        values = []
    if len(values) != 4:
        raise RequestError(f"{name}: invalid box {text!r}: expected x1,y1,x2,y2 in pixels")
    return values


def _phrases(name: str, phrases: Any) -> tuple[str, ...]:
    """One text or a list of texts → a tuple of stripped, non-empty phrases; RequestError otherwise."""
    items = [phrases] if isinstance(phrases, str) else list(phrases)
    if not all(isinstance(p, str) and p.strip() for p in items):
        raise RequestError(f"{name} must be non-empty texts, got {phrases!r}")
    return tuple(p.strip() for p in items)


def parse_size(size: tuple[int, int] | str) -> tuple[int, int]:
    """``"1080x1350"`` or ``(1080, 1350)`` → ``(W, H)`` positive ints; RequestError otherwise."""
    try:
        if isinstance(size, str):
            if not _plain_ascii(size):
                raise ValueError
            w_text, h_text = size.lower().split("x")
            w, h = int(w_text), int(h_text)
        else:
            w, h = (int(v) for v in size)
    except (ValueError, TypeError):
        raise RequestError(f"invalid size {size!r}: expected WxH in pixels, e.g. 1080x1350") from None
    if w <= 0 or h <= 0:
        raise RequestError(f"invalid size {size!r}: width and height must be positive")
    return w, h
