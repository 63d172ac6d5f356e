"""Exceptions → HTTP status and the service's one error body ``{"error": {"code", "message"}}``.

Codes and messages come from :mod:`promptcrop.errors` (``error_code`` / ``failure_reason``), the
same texts the command line prints; this module only picks the HTTP status. Codes of the HTTP
layer itself: ``unauthorized``, ``not_found``, ``method_not_allowed``, ``upload_too_large``,
``unsupported_media_type``, ``overloaded`` (503), ``timeout`` (408, 504), ``internal`` (500, with the request id).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from promptcrop.errors import (
    DeadlineExceeded,
    ImageLoadError,
    ModelUnavailableError,
    PromptcropError,
    RequestError,
    error_code,
    failure_reason,
)

# ImageLoadError.kind → status; every other kind is 422.
_IMAGE_STATUS = {"too_large": 413, "not_image": 415}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "upload_too_large",
    415: "unsupported_media_type",
    422: "bad_request",
    503: "overloaded",
    504: "timeout",
}


class ServiceError(Exception):
    """An HTTP-level refusal raised by the service itself (limits, auth): status, code, message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """``{"error": {"code": ..., "message": ..., ("request_id": ...)}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


async def send_error(
    send: Any, status: int, code: str, message: str, *, request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer through the ASGI ``send`` with the one error body and ``Connection: close`` (for the
    pure ASGI middleware, which answers before or instead of the app and leaves a request body
    unread: the connection must not be reused)."""
    body = json.dumps(error_body(code, message, request_id), separators=(",", ":")).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def error_response(
    status: int, code: str, message: str, *, request_id: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response with the one error body."""
    return JSONResponse(error_body(code, message, request_id), status_code=status, headers=headers)


def status_for(exc: PromptcropError | ValueError) -> int:
    """The HTTP status of an error promptcrop raised on purpose (an input the caller can fix)."""
    if isinstance(exc, ImageLoadError):
        return _IMAGE_STATUS.get(exc.kind, 422)
    if isinstance(exc, DeadlineExceeded):
        return 504
    if isinstance(exc, (RequestError, ModelUnavailableError)) or error_code(exc) != "internal":
        return 422
    return 500


def promptcrop_error_response(exc: PromptcropError | ValueError, request_id: str | None) -> JSONResponse:
    """The response for an exception from the predictor or the request parser."""
    status = status_for(exc)
    if status == 500:
        return internal_error_response(request_id)
    return error_response(status, error_code(exc), failure_reason(exc), request_id=request_id)


def internal_error_response(request_id: str | None) -> JSONResponse:
    """A 500 that says nothing of the internals, only the request id to find them in the log."""
    return error_response(
        500, "internal", f"internal error; the server log has the details under request id {request_id}",
        request_id=request_id,
    )


def http_code(status: int) -> str:
    """The error code of a plain HTTP status (Starlette's own errors: 404, 405...)."""
    return _HTTP_CODES.get(status, "internal" if status >= 500 else "bad_request")
