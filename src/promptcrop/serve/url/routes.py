"""The HTTP side of crop URLs.

- ``GET``/``HEAD /v1/img/{signature}/{options}/{path}`` — the crop's image bytes;
- ``GET``/``HEAD /v1/info/{signature}/{options}/{path}`` — the JSON record of the same crop;
- ``POST /v1/url`` — sign URLs for the page (API key required: see :func:`sign_router`).

Order of the checks, cheapest and safest first: the signature over the raw path (``403``, before
anything else is looked at), the option grammar (``400``), the source object's identity (a
``stat``: ``404`` / ``502``, size limit ``413``), the ETag (``If-None-Match`` → ``304``), the
result cache (a file read), and only then a worker of the pool (queue ``503``, timeout ``504``).
Every error answer carries ``Cache-Control: no-store``; a normal answer ``public, max-age`` (long),
one whose crop fell back the short max-age.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.routing import Route

from promptcrop.errors import PromptcropError, error_code, failure_reason
from promptcrop.serve.errors import ServiceError, status_for
from promptcrop.serve.limits import TimedOut
from promptcrop.serve.url.cache import CacheEntry
from promptcrop.serve.url.grammar import ParsedUrl, UrlSyntaxError, options_from, parse_url_path, with_width
from promptcrop.serve.url.service import IMAGE, INFO, Target, UrlService, etag_matches, etag_of
from promptcrop.serve.url.signing import IMAGE_PREFIX, INFO_PREFIX, UNSIGNED, signed_path, verify
from promptcrop.serve.url.sources import SourceFailure, SourceMissing, SourceTooLarge

log = logging.getLogger("promptcrop.serve")
NO_STORE = {"Cache-Control": "no-store"}
PARSED_URLS = 4096  # verified URL tails whose parse is remembered
_PREFIXES = {IMAGE: IMAGE_PREFIX, INFO: INFO_PREFIX}
# Source errors → (status, code); their messages never name a server path.
_SOURCE_ERRORS: dict[type, tuple[int, str]] = {
    SourceMissing: (404, "not_found"),
    SourceFailure: (502, "source_unavailable"),
    SourceTooLarge: (413, "image_too_large"),
    UrlSyntaxError: (400, "bad_request"),
}


def url_routes(service: UrlService) -> list[Route]:
    """``GET``/``HEAD /v1/img/...`` and ``/v1/info/...``, authenticated by their signature, not
    the API key (an ``<img>`` tag sends no header). Plain Starlette routes: nothing for FastAPI to
    validate (the path is parsed here), so a cache hit costs less; docs/URLS.md documents them."""

    async def image(request: Request) -> Response:
        return await _answer(request, service, IMAGE)

    async def info(request: Request) -> Response:
        return await _answer(request, service, INFO)

    return [Route(IMAGE_PREFIX + "/{rest:path}", image, methods=["GET", "HEAD"]),
            Route(INFO_PREFIX + "/{rest:path}", info, methods=["GET", "HEAD"])]


async def _answer(request: Request, service: UrlService, kind: str) -> Response:
    try:
        return await _serve(request, service, kind)
    except ServiceError as exc:
        exc.headers.update(NO_STORE)
        raise
    except tuple(_SOURCE_ERRORS) as exc:
        status, code = _SOURCE_ERRORS[type(exc)]
        if isinstance(exc, SourceFailure):  # the store's own error, paths included, for the log only
            log.warning("request %s: source %r failed: %s", request.scope.get("state", {}).get("request_id"),
                        exc.source, exc.__cause__)
        raise ServiceError(status, code, str(exc), headers=dict(NO_STORE)) from None
    except (PromptcropError, ValueError) as exc:
        status = status_for(exc)
        if status == 500:
            raise
        raise ServiceError(status, error_code(exc), failure_reason(exc), headers=dict(NO_STORE)) from None


async def _serve(request: Request, service: UrlService, kind: str) -> Response:
    signature, tail = _signed_tail(request, kind)
    if not _signature_ok(service, signature, tail):
        raise ServiceError(403, "forbidden", "invalid or missing URL signature")
    parsed = parse_tail(tail)
    target = service.target(parsed, request.headers.get("accept", ""))
    source = target.source
    info = source.stat(parsed.path) if source.local else await _bounded(request, source.stat, parsed.path)
    if info.size > service.max_source_bytes:
        raise SourceTooLarge(service.max_source_bytes)
    key = service.key(kind, target, info)
    etag = etag_of(key)
    cached = service.cache.get(key) if service.cache is not None else None  # one local file read
    if etag_matches(request.headers.get("if-none-match"), etag):
        service.metrics.count(kind, "not_modified")
        fallback = True if cached is None else bool(cached.meta.get("fallback"))  # unknown: the short one
        return Response(status_code=304, headers=_cache_headers(service, target, etag, fallback))
    if cached is None:
        service.metrics.count(kind, "miss")
        service.check(target)  # before a worker is taken (a hit was checked when it was made)
        keys = {k: service.key(k, target, info) for k in (IMAGE, INFO)}
        async with request.app.state.service.pool.admitted() as slot:
            cached = (await slot.run(service.render, target, keys, slot.deadline))[kind]
    else:
        service.metrics.count(kind, "hit")
    return _entry_response(service, target, etag, cached)


@functools.lru_cache(maxsize=PARSED_URLS)
def parse_tail(tail: str) -> ParsedUrl:
    """The options and path of a verified tail, remembered: a repeated URL is parsed once (an
    error is not remembered: it raises again)."""
    return parse_url_path(tail[1:].split("/"))


def _signed_tail(request: Request, kind: str) -> tuple[str, str]:
    """``(signature, "/options.../path")`` from the raw (still percent-encoded) request path."""
    raw = request.scope.get("raw_path")
    try:
        path = raw.decode("ascii") if raw else request.scope["path"]
    except UnicodeDecodeError:
        raise UrlSyntaxError("the URL path must be ASCII (percent-encode the rest)") from None
    rest = path[len(_PREFIXES[kind]) + 1:]
    signature, sep, tail = rest.partition("/")
    return signature, "/" + tail if sep else ""


def _signature_ok(service: UrlService, signature: str, tail: str) -> bool:
    if not tail:
        return False
    if signature == UNSIGNED:
        return service.settings.allow_unsigned
    return verify(signature, tail, service.settings.keys)


async def _bounded(request: Request, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on a thread, within the server's time limit (a slow store → 504)."""
    timeout = request.app.state.service.settings.timeout_s
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout=timeout)
    except asyncio.TimeoutError:
        raise TimedOut(timeout) from None


def _cache_headers(service: UrlService, target: Target, etag: str, fallback: bool) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={service.max_age(fallback)}"}
    if target.negotiated:
        headers["Vary"] = "Accept"
    return headers


def _entry_response(service: UrlService, target: Target, etag: str, entry: CacheEntry) -> Response:
    headers = {**entry.meta.get("headers", {}),
               **_cache_headers(service, target, etag, bool(entry.meta.get("fallback")))}
    return Response(entry.body, media_type=entry.meta.get("media_type"), headers=headers)


# ------------------------------------------------------------------ signing for the page


class SignBody(BaseModel):
    """``POST /v1/url``: the image's path in a source, the crop options and the ``srcset`` widths."""

    path: str = Field(min_length=1, max_length=1024)
    options: dict[str, Any] = Field(default_factory=dict)
    widths: list[int] = Field(default_factory=list, max_length=16)
    base: str = Field(default="", max_length=256, pattern=r"^(https?://[^/\s]+)?$")


def sign_router(service: UrlService, require_key: Any, api_key_set: bool) -> APIRouter:
    """``POST /v1/url``: URLs for the page's URL panel. Signing happens here only for a caller
    the API key authenticated; a server without ``--api-key`` signs for nobody and answers
    ``unsafe`` URLs only when it accepts them (``--allow-unsigned``), else ``403``."""
    router = APIRouter(dependencies=[Depends(require_key)])
    pair = service.settings.keys[0] if api_key_set and service.settings.keys else None
    signing = "signed" if pair is not None else "unsigned" if service.settings.allow_unsigned else "none"

    @router.get("/v1/url", summary="The sources crop URLs can name and whether this server signs for you")
    async def url_info() -> dict[str, Any]:
        return {"sources": list(service.sources), "default": service.default_source, "signing": signing}

    @router.post("/v1/url", summary="Crop URLs (signed for an authenticated caller) and an <img> snippet")
    async def sign(body: SignBody) -> JSONResponse:
        if signing == "none":
            raise ServiceError(403, "forbidden", "this server signs URLs only for API-key holders: start it with --api-key")
        try:
            options = options_from(**body.options)
            urls = {w: signed_path(with_width(options, w), body.path, pair, base=body.base) for w in body.widths}
            url = signed_path(options, body.path, pair, base=body.base)
        except UrlSyntaxError as exc:
            raise ServiceError(400, "bad_request", str(exc)) from None
        srcset = ", ".join(f"{u} {w}w" for w, u in urls.items())
        snippet = f'<img src="{html.escape(url)}"' + (
            f' srcset="{html.escape(srcset)}" sizes="100vw"' if srcset else "") + ' alt="">'
        return JSONResponse({"url": url, "info": url.replace(IMAGE_PREFIX, INFO_PREFIX, 1),
                             "srcset": [{"width": w, "url": u} for w, u in urls.items()],
                             "signed": pair is not None, "img": snippet})

    return router
