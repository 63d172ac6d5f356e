"""Refuse before reading: what the request headers alone can decide is decided before a byte of
the body is read.

:class:`RequestGate` is pure ASGI middleware; in order it refuses

1. an unknown route (``404``) or method (``405``);
2. a route that needs the API key, without it (``401``; :func:`key_accepted`, constant time);
3. a body where the route takes none (``400``), a declared ``Content-Length`` above the upload
   limit (``413``), a body that is not a form on a route taking a form (``415``);
4. a body route while every worker is busy and the queue is full (``503`` + ``Retry-After``).

Each refusal closes the connection: the body is never read (the server only discards, briefly
and bounded, what the client keeps sending while it reads the answer — see
:mod:`promptcrop.serve.connections`). What passes the gate may still be refused later by
:class:`~promptcrop.serve.limits.UploadLimit` (a body that grows too large or stalls) and by the
pool itself (the queue filled meanwhile).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Mapping
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match

from promptcrop.serve.errors import ServiceError, send_error
from promptcrop.serve.limits import ASGIApp, Overloaded, Receive, Scope, Send, WorkerPool, upload_too_large_message

UNAUTHORIZED_MESSAGE = "this server needs an API key (Authorization: Bearer KEY or X-API-Key: KEY)"
#: Content types a body route accepts (its fields are a form).
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
#: Methods whose matched route reads a body (every other route takes none).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents: ``X-API-Key``, else ``Authorization: Bearer KEY``."""
    given = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if given is None and auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    return given


def key_accepted(headers: Mapping[str, str], expected: str | None) -> bool:
    """Whether ``headers`` present ``expected`` (always, when no key is configured)."""
    if expected is None:
        return True
    given = presented_key(headers)
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def key_dependency(api_key: str | None) -> Any:
    """A FastAPI dependency with the same check (for routes reached without the gate)."""

    async def require_key(request: Request) -> None:
        if not key_accepted(request.headers, api_key):
            raise _unauthorized()

    return require_key


def _unauthorized() -> ServiceError:
    return ServiceError(401, "unauthorized", UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


class RequestGate:
    """The header-only checks (see the module docstring).

    ``routes``: the app's routes; ``protected``: the routes that need the key; ``form_routes``:
    the routes whose body must be a form (all three called per request, so routes added later
    count); ``pool``: the worker pool whose fullness refuses body routes. A route taking ``POST``,
    ``PUT`` or ``PATCH`` is a body route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Collection[BaseRoute]],
        protected: Callable[[], Collection[BaseRoute]],
        form_routes: Callable[[], Collection[BaseRoute]],
        api_key: str | None,
        max_bytes: int,
        pool: WorkerPool,
    ) -> None:
        self.app = app
        self.routes = routes
        self.protected = protected
        self.form_routes = form_routes
        self.api_key = api_key
        self.max_bytes = max_bytes
        self.pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await send_error(send, refusal.status, refusal.code, refusal.message,
                         request_id=scope.get("state", {}).get("request_id"), headers=refusal.headers)

    def refusal(self, scope: Scope) -> ServiceError | None:
        """The answer to give from the headers alone, or None to let the request in."""
        match = _best_match(self.routes(), scope)
        if match is Match.NONE:
            return ServiceError(404, "not_found", "Not Found")
        if match is Match.PARTIAL:
            return ServiceError(405, "method_not_allowed", "Method Not Allowed")
        headers = Headers(scope=scope)
        if _best_match(self.protected(), scope) is Match.FULL and not key_accepted(headers, self.api_key):
            return _unauthorized()
        declared = _declared_length(headers)
        has_body = declared != 0
        if scope["method"] not in BODY_METHODS:
            if has_body:
                return ServiceError(400, "bad_request", f"{scope['method']} {scope['path']} takes no request body")
            return None
        if declared is not None and declared > self.max_bytes:
            return ServiceError(413, "upload_too_large", upload_too_large_message(self.max_bytes))
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        form_route = _best_match(self.form_routes(), scope) is Match.FULL
        if has_body and form_route and content_type not in FORM_TYPES:
            return ServiceError(415, "unsupported_media_type", "the request body must be a form "
                                f"(multipart/form-data), got {content_type or 'no content type'}")
        if self.pool.full:
            return Overloaded(self.pool.retry_after_s)
        return None


def _best_match(routes: Collection[BaseRoute], scope: Scope) -> Match:
    """FULL when a route takes the request, PARTIAL when one has its path but not its method."""
    best = Match.NONE
    for route in routes:
        match, _child = route.matches(scope)
        if match is Match.FULL:
            return match
        if match is Match.PARTIAL:
            best = match
    return best


def _declared_length(headers: Headers) -> int | None:
    """The declared body length: 0 without a body, None when chunked (unknown until read)."""
    if "transfer-encoding" in headers:
        return None
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return None
