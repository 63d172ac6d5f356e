"""The FastAPI app factory: ``create_app(settings, loaded)`` wires the routes, the limits, the
metrics, authentication, CORS and the security headers around one loaded Predictor.

Middleware, outermost first: request id + security headers, metrics, (CORS), the request gate
(route, key, length and queue checked from the headers), the upload limit (size and stalls while
the body streams in).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from promptcrop import __version__
from promptcrop.errors import PromptcropError
from promptcrop.predictor import Predictor
from promptcrop.serve.docs import DOCS_CONTENT_SECURITY_POLICY, DOCS_PATH, add_offline_docs
from promptcrop.serve.errors import (
    ServiceError,
    error_response,
    http_code,
    internal_error_response,
    promptcrop_error_response,
)
from promptcrop.serve.gate import RequestGate, key_dependency
from promptcrop.serve.limits import ASGIApp, Message, Receive, Scope, Send, UploadLimit, WorkerPool
from promptcrop.serve.metrics import MetricsMiddleware, ServiceMetrics
from promptcrop.serve.routes import STATIC_DIR, api_router, public_router
from promptcrop.serve.service import LoadedPredictor
from promptcrop.serve.settings import ServeSettings

log = logging.getLogger("promptcrop.serve")

# The page and its files: own origin only, no inline script, no third party.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass
class ServiceState:
    """What the routes reach through ``request.app.state.service``."""

    settings: ServeSettings
    loaded: LoadedPredictor
    pool: WorkerPool
    metrics: ServiceMetrics

    @property
    def predictor(self) -> Predictor:
        return self.loaded.predictor


def create_app(settings: ServeSettings, loaded: LoadedPredictor) -> FastAPI:
    """The app serving ``loaded.predictor`` under ``settings`` (the Predictor is already loaded)."""
    pool = WorkerPool(settings.threads, settings.max_queue, settings.timeout_s)
    state = ServiceState(settings, loaded, pool, ServiceMetrics(pool))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="promptcrop", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Conditioned image cropping (ClipCrop). Images are uploaded, never fetched by URL.",
    )
    app.state.service = state
    app.include_router(public_router())
    require_key = key_dependency(settings.api_key)
    api = api_router(require_key)
    app.include_router(api)
    protected = list(api.routes)
    if settings.url is not None:
        protected += _add_url_routes(app, settings, loaded, state, require_key)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    add_offline_docs(app)
    _add_exception_handlers(app)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes, stall_timeout_s=settings.body_timeout_s)
    app.add_middleware(
        RequestGate, routes=lambda: app.router.routes, protected=lambda: protected, form_routes=lambda: api.routes,
        api_key=settings.api_key, max_bytes=settings.max_upload_bytes, pool=pool,
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key"],
            expose_headers=["X-Promptcrop-Box", "X-Promptcrop-Score", "X-Promptcrop-Mode",
                            "X-Promptcrop-Ratio", "X-Promptcrop-Rank", "X-Promptcrop-Fallback",
                            "X-Request-Id", "ETag"],
        )
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(RequestContext)
    return app


def _add_url_routes(app: FastAPI, settings: ServeSettings, loaded: LoadedPredictor, state: ServiceState,
                    require_key: Any) -> list[Any]:
    """Crops by URL (``/v1/img``, ``/v1/info/...``, ``/v1/url``): see :mod:`promptcrop.serve.url`.
    Returns the routes that need the API key (the signing routes; signed URLs carry their own
    proof)."""
    from promptcrop.serve.url.routes import sign_router, url_routes
    from promptcrop.serve.url.service import UrlMetrics, UrlService

    assert settings.url is not None
    service = UrlService(settings.url, loaded, settings.max_upload_bytes, UrlMetrics(state.metrics.registry))
    app.state.url = service
    app.router.routes[0:0] = url_routes(service)  # first: the route a cache hit must find fastest
    signing = sign_router(service, require_key, settings.api_key is not None)
    app.include_router(signing)
    return list(signing.routes)


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Any:
        return error_response(exc.status, exc.code, exc.message, request_id=_request_id(request), headers=exc.headers)

    @app.exception_handler(PromptcropError)
    async def promptcrop_error(request: Request, exc: PromptcropError) -> Any:
        response = promptcrop_error_response(exc, _request_id(request))
        if response.status_code == 500:
            log.error("request %s failed", _request_id(request), exc_info=exc)
        return response

    @app.exception_handler(ValueError)
    async def value_error(request: Request, exc: ValueError) -> Any:
        return promptcrop_error_response(exc, _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        return error_response(422, "bad_request", _validation_message(exc), request_id=_request_id(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        return error_response(exc.status_code, http_code(exc.status_code), str(exc.detail),
                              request_id=_request_id(request), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Any:
        log.error("request %s failed", _request_id(request), exc_info=exc)
        return internal_error_response(_request_id(request))


def _validation_message(exc: RequestValidationError) -> str:
    """``"<field>: <problem>"`` for the first invalid field (FastAPI's own form validation)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    field = next((str(p) for p in reversed(first.get("loc", ())) if isinstance(p, str) and p not in ("body",)), "request")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        message = "required field missing"
    elif "UploadFile" in message:
        message = "must be an uploaded file (a multipart file part), not a text field"
    return f"{field}: {message}"


class RequestContext:
    """Pure ASGI middleware: a request id (``X-Request-Id``) and the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        csp = DOCS_CONTENT_SECURITY_POLICY if scope.get("path", "").startswith(DOCS_PATH) else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
