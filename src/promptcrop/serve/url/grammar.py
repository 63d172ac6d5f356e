"""The option grammar of crop URLs: ``/{options}/{path inside the source}``.

A URL path after the signature is a list of ``/``-separated segments. The leading segments of the
form ``name:arg[:arg]`` are options (one row each of :data:`OPTIONS`, the only table); the first
segment that is not (or the segment ``-``, which is dropped, for a path whose first folder looks
like an option) starts the image's path inside the source. Each part of a segment is
percent-decoded on its own, so ``%3A`` is a colon inside an argument and ``%2F`` is a slash inside
a name — which a path segment refuses (see :func:`split_path`).

    ar:4:5/w:1080/q:the%20red%20car/k:1/fmt:webp/products/123.jpg

An unknown option, a repeated one, a missing or malformed argument is a :class:`UrlSyntaxError`
naming the option (the service answers 400). Options are parsed here into :class:`UrlOptions`
and then, once, into the library's :class:`~promptcrop.predictor.CropRequest`.

This module imports neither FastAPI nor the model: ``promptcrop sign-url`` and templates use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any
from urllib.parse import quote, unquote

from promptcrop.errors import RequestError
from promptcrop.request import CropRequest

#: Output formats of ``fmt:`` → Pillow format; ``auto`` = WebP for a client that accepts it.
FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
AUTO_FORMAT = "auto"
MODES = ("auto", "offline")
FITS = ("crop", "pad")
DEFAULT_QUALITY = 85
MAX_RANK = 20
END_OF_OPTIONS = "-"
ORIGINAL = "original"
_NAME = re.compile(r"^[a-z]{1,8}:")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEX_COLOUR = re.compile(r"^[0-9a-fA-F]{6}$")
# Characters a path segment may never contain once decoded (separators, NUL, control characters).
_FORBIDDEN_IN_SEGMENT = re.compile(r"[/\\\x00-\x1f\x7f]")


class UrlSyntaxError(RequestError):
    """A crop URL the caller can fix: an unknown, repeated or malformed option, a bad path."""


@dataclass(frozen=True)
class UrlOptions:
    """The options of one crop URL (``None`` = not given).

    ``aspect``: ratio label (``"4:5"``, ``"1.5"``, ``"original"``); ``width`` / ``height``: output
    pixels (both: an exact size; one: the crop is scaled to it); ``query`` / ``exclude``: texts;
    ``fit`` / ``pad``: ``crop`` or ``pad`` and the pad colour ``(r, g, b)``; ``rank``: which crop
    (1 = best); ``format``: ``jpeg``/``png``/``webp``/``auto``; ``quality``: 1..100 (lossy
    formats); ``mode``: ``auto`` or ``offline``; ``source``: the configured source's name.
    """

    aspect: str | None = None
    width: int | None = None
    height: int | None = None
    query: str | None = None
    exclude: str | None = None
    fit: str | None = None
    pad: tuple[int, int, int] | None = None
    rank: int | None = None
    format: str | None = None
    quality: int | None = None
    mode: str | None = None
    source: str | None = None

    @cached_property
    def request(self) -> CropRequest:
        """:meth:`crop_request`, made once per options object."""
        return self.crop_request()

    def crop_request(self) -> CropRequest:
        """The library request: ``rank`` crops of one ratio (or of the exact size)."""
        if self.mode == "offline" and (self.query is not None or self.exclude is not None):
            raise UrlSyntaxError("mode:offline takes no q: or x: (the weight-free mode cannot read text)")
        size = None
        aspect = self.aspect
        if self.width is not None and self.height is not None:
            if aspect is not None:
                raise UrlSyntaxError("ar: give a ratio or both w: and h:, not all three")
            size = f"{self.width}x{self.height}"
        elif self.sized_by_ratio:
            size = _size_from_ratio(aspect, self.width, self.height)
            aspect = None
        try:
            return CropRequest.build(
                k=self.rank or 1, aspect=None if aspect == ORIGINAL else aspect, size=size, fit=self.fit or "crop",
                exclude=() if self.exclude is None else (self.exclude,),
            )
        except RequestError as exc:
            raise UrlSyntaxError(str(exc)) from None

    @property
    def sized_by_ratio(self) -> bool:
        """One side and a numeric ratio: the exact output size follows from them."""
        one_side = (self.width is None) != (self.height is None)
        return one_side and self.aspect not in (None, ORIGINAL)

    @property
    def scaled_to_one_side(self) -> bool:
        """One side without a numeric ratio: the crop is scaled to it, keeping its own ratio."""
        return (self.width is None) != (self.height is None) and not self.sized_by_ratio

    def canonical(self) -> dict[str, Any]:
        """Every option, given or not, in table order: the cache key's part of the options."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def path(self, source_path: str) -> str:
        """``/opt/opt/.../path``: these options and ``source_path`` (``/``-separated, not encoded)
        as the URL path a server parses back into them (each part percent-encoded)."""
        segments = [option.segment(self._value(option)) for option in OPTIONS
                    if getattr(self, option.field) is not None]
        parts = [p for p in source_path.split("/") if p]
        if not parts:
            raise UrlSyntaxError("the image path is empty")
        if _NAME.match(parts[0]) or parts[0] == END_OF_OPTIONS:
            segments.append(END_OF_OPTIONS)
        segments.extend(quote(p, safe="") for p in parts)
        return "/" + "/".join(segments)


    def _value(self, option: Option) -> Any:
        # fit:pad:RRGGBB is one option setting two fields
        return (self.fit, self.pad) if option.field == "fit" else getattr(self, option.field)


def _size_from_ratio(aspect: str, width: int | None, height: int | None) -> str:
    """``"WxH"`` from a ratio and one side (the other side rounded, at least 1 px)."""
    from promptcrop.boxes import parse_aspect_ratio

    try:
        value = parse_aspect_ratio(aspect)
    except RequestError as exc:
        raise UrlSyntaxError(f"ar: {exc}") from None
    if width is not None:
        return f"{width}x{max(1, round(width / value))}"
    assert height is not None
    return f"{max(1, round(height * value))}x{height}"


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Option:
    """One row of the grammar: ``key:args`` sets :class:`UrlOptions` ``field``.

    ``parse`` turns the decoded arguments into the field's value (:class:`UrlSyntaxError`
    otherwise); ``render`` turns a value back into its arguments; ``syntax`` and ``help`` feed the
    documentation and ``promptcrop sign-url``'s options (``flag``).
    """

    key: str
    field: str
    flag: str
    syntax: str
    help: str
    parse: Callable[[list[str]], Any]
    render: Callable[[Any], list[str]]
    takes_rest: bool = False  # free text: colons inside it belong to the argument

    def segment(self, value: Any) -> str:
        return ":".join([self.key, *(quote(str(a), safe="") for a in self.render(value))])


def _one(key: str, args: list[str]) -> str:
    if len(args) != 1 or not args[0]:
        raise UrlSyntaxError(f"{key}: expected one argument, got {':'.join(args)!r}")
    return args[0]


def _int_in(key: str, low: int, high: int | None) -> Callable[[list[str]], int]:
    def parse(args: list[str]) -> int:
        text = _one(key, args)
        if not text.isdigit() or not (low <= int(text) and (high is None or int(text) <= high)):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise UrlSyntaxError(f"{key}: expected an integer {bound}, got {text!r}")
        return int(text)

    return parse


def _choice(key: str, choices: Sequence[str]) -> Callable[[list[str]], str]:
    def parse(args: list[str]) -> str:
        text = _one(key, args).lower()
        if text not in choices:
            raise UrlSyntaxError(f"{key}: expected one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def _text(key: str) -> Callable[[list[str]], str]:
    def parse(args: list[str]) -> str:
        text = ":".join(args).strip()
        if not text:
            raise UrlSyntaxError(f"{key}: expected a text, got nothing")
        return text

    return parse


def _parse_aspect(args: list[str]) -> str:
    if len(args) == 1 and args[0].lower() == ORIGINAL:
        return ORIGINAL
    if len(args) not in (1, 2) or not all(args):
        raise UrlSyntaxError(f"ar: expected W:H, a number or 'original', got {':'.join(args)!r}")
    label = ":".join(args)
    from promptcrop.boxes import parse_aspect_ratio

    try:
        parse_aspect_ratio(label)
    except RequestError as exc:
        raise UrlSyntaxError(f"ar: {exc}") from None
    return label


def _parse_fit(args: list[str]) -> tuple[str, tuple[int, int, int] | None]:
    if not args or args[0].lower() not in FITS or len(args) > 2:
        raise UrlSyntaxError(f"fit: expected crop, pad or pad:RRGGBB, got {':'.join(args)!r}")
    fit = args[0].lower()
    if len(args) == 1:
        return fit, None
    if fit != "pad" or not _HEX_COLOUR.match(args[1]):
        raise UrlSyntaxError(f"fit: the pad colour is six hex digits after pad:, got {':'.join(args)!r}")
    colour = args[1]
    return fit, (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16))


def _parse_source(args: list[str]) -> str:
    name = _one("src", args)
    if not _SOURCE_NAME.match(name):
        raise UrlSyntaxError(f"src: a source name is letters, digits, - and _, got {name!r}")
    return name


def _render_fit(value: tuple[str, tuple[int, int, int] | None]) -> list[str]:
    fit, colour = value
    return [fit] if colour is None else [fit, "".join(f"{c:02x}" for c in colour)]


_AS_TEXT: Callable[[Any], list[str]] = lambda value: [str(value)]  # noqa: E731

#: The grammar, in the canonical order :meth:`UrlOptions.path` writes.
OPTIONS: tuple[Option, ...] = (
    Option("src", "source", "--source-name", "src:NAME", "which configured source (default: the first)",
           _parse_source, _AS_TEXT),
    Option("ar", "aspect", "--aspect", "ar:W:H | ar:1.5 | ar:original", "crop ratio (default: original)",
           _parse_aspect, lambda v: v.split(":")),
    Option("w", "width", "--width", "w:PIXELS", "output width (with ar: or alone; with h: an exact size)",
           _int_in("w", 1, None), _AS_TEXT),
    Option("h", "height", "--height", "h:PIXELS", "output height (with ar: or alone; with w: an exact size)",
           _int_in("h", 1, None), _AS_TEXT),
    Option("q", "query", "--query", "q:TEXT", "what to keep, in words (needs the OWL-ViT weights)",
           _text("q"), _AS_TEXT, takes_rest=True),
    Option("x", "exclude", "--exclude", "x:TEXT", "what to leave out, in words (needs the weights)",
           _text("x"), _AS_TEXT, takes_rest=True),
    Option("fit", "fit", "--fit", "fit:crop | fit:pad | fit:pad:RRGGBB",
           "pad: letterbox when the subject does not fit (colour: the border's, or RRGGBB)",
           _parse_fit, _render_fit),
    Option("k", "rank", "--rank", "k:N", f"which crop: 1 = best, up to {MAX_RANK}",
           _int_in("k", 1, MAX_RANK), _AS_TEXT),
    Option("fmt", "format", "--format", "fmt:jpeg | png | webp | auto",
           "output format (default: the source's; auto: WebP if the client accepts it)",
           _choice("fmt", (*FORMATS, AUTO_FORMAT)), _AS_TEXT),
    Option("qual", "quality", "--quality", "qual:1..100", f"JPEG / WebP quality (default {DEFAULT_QUALITY})",
           _int_in("qual", 1, 100), _AS_TEXT),
    Option("mode", "mode", "--mode", "mode:auto | mode:offline",
           "offline: the weight-free mode even on a server with weights", _choice("mode", MODES), _AS_TEXT),
)
_BY_KEY = {option.key: option for option in OPTIONS}


# ------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class ParsedUrl:
    """A crop URL's options and the image's path inside the source (decoded segments)."""

    options: UrlOptions
    path: tuple[str, ...]


def parse_url_path(segments: Sequence[str]) -> ParsedUrl:
    """Parse the raw (still percent-encoded) segments after the signature."""
    values: dict[str, Any] = {}
    index = 0
    while index < len(segments) and _NAME.match(segments[index]):
        key, *raw_args = segments[index].split(":")
        option = _BY_KEY.get(key)
        if option is None:
            raise UrlSyntaxError(f"unknown option {key!r} (options: {', '.join(_BY_KEY)})")
        if option.field in values:
            raise UrlSyntaxError(f"option {key!r} given twice")
        values[option.field] = option.parse([unquote(a, errors="strict") for a in raw_args])
        index += 1
    if index < len(segments) and segments[index] == END_OF_OPTIONS:
        index += 1
    fit = values.pop("fit", None)
    if fit is not None:
        values["fit"], values["pad"] = fit
    options = UrlOptions(**values)
    if options.pad is not None and options.fit != "pad":
        raise UrlSyntaxError("fit: a pad colour needs fit:pad")
    options.request  # noqa: B018 - every combination checked here, before the source is touched
    return ParsedUrl(options, split_path(segments[index:]))


def split_path(segments: Sequence[str]) -> tuple[str, ...]:
    """Percent-decode the path segments; refuse what could leave a root or name no file.

    Refused (:class:`UrlSyntaxError`): no segment, an empty segment (``//``), ``.`` or ``..``
    (also encoded, ``%2e%2e``), a decoded ``/`` or ``\\`` (``%2f``, ``%5c``), NUL and control
    characters, invalid UTF-8, a drive or home prefix (``C:``, ``~``).
    """
    if not segments:
        raise UrlSyntaxError("the URL names no image: options must be followed by the image's path")
    parts = []
    for raw in segments:
        try:
            part = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise UrlSyntaxError("the image path is not valid UTF-8") from None
        if part in ("", ".", "..") or _FORBIDDEN_IN_SEGMENT.search(part) or _double_encoded(part):
            raise UrlSyntaxError("the image path has an empty, '.', '..' or encoded-separator segment")
        if part.startswith("~") or (len(parts) == 0 and re.match(r"^[A-Za-z]:", part)):
            raise UrlSyntaxError("the image path must be relative to the source")
        parts.append(part)
    return tuple(parts)


def _double_encoded(part: str) -> bool:
    """A decoded segment that decodes again to a separator or a dot segment (``%252e%252e``)."""
    if "%" not in part:
        return False
    again = unquote(part)
    return again in (".", "..") or bool(_FORBIDDEN_IN_SEGMENT.search(again))


def options_from(**given: Any) -> UrlOptions:
    """:class:`UrlOptions` from keyword arguments named by the table's fields (``aspect="4:5"``,
    ``width=400``, ``query="the red car"``, ``fit="pad"``, ``pad="ffffff"``...), each checked
    by the same parser a URL goes through."""
    values: dict[str, Any] = {}
    by_field = {option.field: option for option in OPTIONS}
    pad = given.pop("pad", None)
    for name, value in given.items():
        if value is None:
            continue
        if name not in by_field:
            raise UrlSyntaxError(f"unknown option {name!r} (options: {', '.join(by_field)})")
        option = by_field[name]
        args = [str(value)] if option.takes_rest or name != "aspect" else str(value).split(":")
        if name == "fit" and pad is not None:
            args = [str(value), str(pad).lstrip("#")]
        values[name] = option.parse(args)
    fit = values.pop("fit", None)
    if fit is not None:
        values["fit"], values["pad"] = fit
    elif pad is not None:
        raise UrlSyntaxError("fit: a pad colour needs fit:pad")
    options = UrlOptions(**values)
    options.crop_request()
    return options


def with_width(options: UrlOptions, width: int) -> UrlOptions:
    """The same options at another output width (``srcset`` entries): the height follows the
    ratio (an exact size's ratio, when both sides were given)."""
    aspect = options.aspect
    if aspect is None and options.width is not None and options.height is not None:
        aspect = f"{options.width}:{options.height}"
    return replace(options, aspect=aspect, width=width, height=None)
