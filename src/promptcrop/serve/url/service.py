"""The crop-URL side of the service without HTTP: sources, the ETag, the result cache and the
rendering of one crop (on a worker of the pool).

One render reads the source object, runs the Predictor once and produces both answers of the
URL — the image (``/v1/img/...``) and the JSON record (``/v1/info/...``) — which are cached
under their own keys.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from promptcrop import __version__
from promptcrop.batch.outputs import output_format
from promptcrop.deadline import Deadline, check_deadline
from promptcrop.errors import RequestError
from promptcrop.images import encode_image
from promptcrop.predictor import Predictor
from promptcrop.results import CropResult, build_record
from promptcrop.serve.service import MEDIA_TYPES, CropJob, LoadedPredictor, check_job, predict
from promptcrop.serve.url.cache import CacheEntry, ResultCache
from promptcrop.serve.url.grammar import AUTO_FORMAT, DEFAULT_QUALITY, FORMATS, ParsedUrl, UrlOptions
from promptcrop.serve.url.settings import UrlSettings
from promptcrop.serve.url.sources import ObjectInfo, Source, SourceMissing, parse_source

IMAGE = "img"
INFO = "info"
CACHE_SCHEMA = 1  # bump when the cached layout or the rendering changes
EXPLAIN_HEADERS = ("X-Promptcrop-Box", "X-Promptcrop-Score", "X-Promptcrop-Mode", "X-Promptcrop-Ratio",
                   "X-Promptcrop-Rank", "X-Promptcrop-Fallback")


@dataclass(frozen=True)
class Target:
    """One URL resolved against the server: the source, the path in it, the options and the
    output format negotiated (Pillow's name, ``None`` = the source's own)."""

    source: Source
    parsed: ParsedUrl
    format: str | None
    negotiated: bool  # the format followed the client's Accept header (Vary: Accept)

    @property
    def options(self) -> UrlOptions:
        return self.parsed.options


class UrlMetrics:
    """Counters of the crop URLs, in the app's Prometheus registry.

    ``promptcrop_url_renders_total`` counts source reads followed by a model run: a cache hit or
    a 304 never adds to it. ``promptcrop_url_answers_total{kind, outcome}``: ``hit``, ``miss``,
    ``not_modified`` answers of ``img`` and ``info`` URLs.
    """

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter

        self.renders = Counter("promptcrop_url_renders", "crop URLs rendered (source read + model run)",
                               registry=registry)
        answers = Counter("promptcrop_url_answers", "crop URL answers by kind and outcome",
                          ["kind", "outcome"], registry=registry)
        self._answers = {(kind, outcome): answers.labels(kind, outcome)
                         for kind in (IMAGE, INFO) for outcome in ("hit", "miss", "not_modified")}

    def count(self, kind: str, outcome: str) -> None:
        self._answers[kind, outcome].inc()


class UrlService:
    """Sources, cache and renderer of the crop URLs of one app."""

    def __init__(self, url: UrlSettings, loaded: LoadedPredictor, max_source_bytes: int, metrics: UrlMetrics) -> None:
        self.settings = url
        self.loaded = loaded
        self.max_source_bytes = max_source_bytes
        sources = [parse_source(spec, i) for i, spec in enumerate(url.sources)]
        self.sources = {s.name: s for s in sources}
        if len(self.sources) != len(sources):
            raise RequestError("two sources have the same name")
        self.default_source = sources[0].name
        self.cache = ResultCache(url.cache_dir, url.cache_bytes) if url.cache_dir else None
        self._offline: Predictor | None = None
        self._offline_lock = threading.Lock()
        self.fingerprint = self._fingerprint()
        self.metrics = metrics

    def _fingerprint(self) -> str:
        predictor = self.loaded.predictor
        return json.dumps([CACHE_SCHEMA, __version__, predictor.model_id, predictor.decoder_id,
                           predictor.backend, self.loaded.queries_unavailable is None])

    def target(self, parsed: ParsedUrl, accept: str) -> Target:
        """Resolve the source and the output format (``fmt:auto`` reads the client's ``Accept``)."""
        name = parsed.options.source or self.default_source
        source = self.sources.get(name)
        if source is None:
            raise SourceMissing("no such source on this server")
        fmt = parsed.options.format
        if fmt == AUTO_FORMAT:
            return Target(source, parsed, "WEBP" if "image/webp" in accept else "JPEG", True)
        return Target(source, parsed, FORMATS[fmt] if fmt else None, False)

    def check(self, target: Target) -> None:
        """Refuse before a worker is taken: queries the server cannot follow, output too large."""
        check_job(self._loaded_for(target.options), self._job(target, b""))

    def key(self, kind: str, target: Target, info: ObjectInfo) -> str:
        """The hex digest behind the ETag and the cache key: the object's identity, the options,
        the format and the server's versions."""
        material = json.dumps([
            kind, self.fingerprint, target.source.name, list(target.parsed.path), info.size, info.version,
            target.options.canonical(), target.format,
        ], sort_keys=True, default=list)
        return hashlib.sha256(material.encode()).hexdigest()

    def render(self, target: Target, keys: dict[str, str], deadline: Deadline | None = None) -> dict[str, CacheEntry]:
        """Read the source, crop, encode (blocking: call it on a worker). Returns both answers by
        kind and stores them in the cache; past ``deadline`` it stops at the next stage."""
        data = target.source.read(target.parsed.path, self.max_source_bytes)
        self.metrics.renders.inc()
        options = target.options
        predictor = self._predictor_for(options)
        image, prediction = predict(predictor, self._job(target, data), deadline)
        record = build_record(prediction)
        if len(prediction) < options.request.k:
            raise RequestError(f"k: this image has {len(prediction)} crops of this ratio, not {options.rank}")
        crop = prediction[options.request.k - 1]
        if options.pad is not None:
            crop = replace(crop, pad_color=options.pad)
        pil = _scaled(crop.apply(Image.fromarray(image.array)), options)
        check_deadline(deadline, "encode output")
        fmt = target.format or output_format(image.format).format
        body = encode_image(pil, fmt, icc_profile=image.icc_profile, quality=options.quality or DEFAULT_QUALITY)
        headers = explain_headers(crop, prediction.mode, prediction.fallback)
        fallback = prediction.fallback is not None
        entries = {
            IMAGE: CacheEntry(body, {"media_type": MEDIA_TYPES.get(fmt, "application/octet-stream"),
                                     "headers": headers, "fallback": fallback}),
            INFO: CacheEntry(json.dumps(record, separators=(",", ":")).encode(),
                             {"media_type": "application/json", "headers": headers, "fallback": fallback}),
        }
        if self.cache is not None:
            for kind, entry in entries.items():
                self.cache.put(keys[kind], entry)
        return entries

    def _job(self, target: Target, data: bytes) -> CropJob:
        options = target.options
        return CropJob(image=data, request=options.request, query=options.query)

    def _loaded_for(self, options: UrlOptions) -> LoadedPredictor:
        if options.mode == "offline":
            return LoadedPredictor(self._offline_predictor(), "mode:offline")  # the grammar refuses q:/x: with it
        return self.loaded

    def _predictor_for(self, options: UrlOptions) -> Predictor:
        return self._offline_predictor() if options.mode == "offline" else self.loaded.predictor

    def _offline_predictor(self) -> Predictor:
        with self._offline_lock:
            if self._offline is None:
                self._offline = Predictor(model=None, mode="offline", max_pixels=self.loaded.predictor.max_pixels,
                                          limits=self.loaded.predictor.limits)
            return self._offline

    def max_age(self, fallback: bool) -> int:
        return self.settings.fallback_max_age_s if fallback else self.settings.max_age_s


def _scaled(pil: Image.Image, options: UrlOptions) -> Image.Image:
    """One output side given without a ratio: the crop scaled to it, its own ratio kept."""
    if not options.scaled_to_one_side:
        return pil  # no side, or an exact size the crop already has
    if options.width is not None:
        size = (options.width, max(1, round(pil.height * options.width / pil.width)))
    else:
        assert options.height is not None
        size = (max(1, round(pil.width * options.height / pil.height)), options.height)
    return pil if size == pil.size else pil.resize(size, Image.Resampling.LANCZOS)


def explain_headers(crop: CropResult, mode: str, fallback: str | None) -> dict[str, str]:
    """The crop's box (xyxy pixels of the upright source), score, mode, ratio, rank, fallback."""
    headers = {
        "X-Promptcrop-Box": ",".join(str(int(v)) for v in crop.box),
        "X-Promptcrop-Score": f"{float(crop.score):.6f}",
        "X-Promptcrop-Mode": mode,
        "X-Promptcrop-Ratio": crop.ratio,
        "X-Promptcrop-Rank": str(crop.rank),
    }
    if fallback is not None:
        headers["X-Promptcrop-Fallback"] = fallback.encode("ascii", "replace").decode("ascii")
    return headers


def etag_of(key: str) -> str:
    """A strong ETag from a key digest."""
    return f'"{key[:40]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110 asks)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)

