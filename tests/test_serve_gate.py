"""The request gate: route, key, body length, content type and queue decided from the headers,
before the app reads a byte of the body (the whole app called as ASGI, counting body reads)."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptcrop.options import PredictorOptions
from promptcrop.serve.app import create_app
from promptcrop.serve.gate import key_accepted
from promptcrop.serve.service import build_predictor
from promptcrop.serve.settings import ServeSettings

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def app():
    settings = ServeSettings(predictor=PredictorOptions(offline=True), api_key=KEY, max_upload_mb=1.0, threads=1, max_queue=0)
    return create_app(settings, build_predictor(settings))


def _call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict, dict, int]:
    """``(status, headers, JSON body, body chunks pulled)`` of one request sent in 1 KB chunks."""
    chunks = [body[i : i + 1024] for i in range(0, len(body), 1024)] or [b""]
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if pulled > len(chunks):
            await asyncio.sleep(5)
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": raw, "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234), "app": app}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], out_headers, json.loads(text) if text.startswith(b"{") else {}, pulled


FORM = {"content-type": "multipart/form-data; boundary=xyz"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("POST", "/v1/crops", {**FORM, "content-length": "20000000"}, 401, "unauthorized"),
        ("POST", "/v1/crops", {**FORM, "content-length": "20000", "x-api-key": "wrong"}, 401, "unauthorized"),
        ("POST", "/v1/crops", {**FORM, "content-length": "20000000", "x-api-key": KEY}, 413, "upload_too_large"),
        ("POST", "/v1/crops", {"content-type": "application/json", "content-length": "20", "x-api-key": KEY},
         415, "unsupported_media_type"),
        ("POST", "/nowhere", {**FORM, "content-length": "20000"}, 404, "not_found"),
        ("PUT", "/v1/crops", {**FORM, "content-length": "20000", "x-api-key": KEY}, 405, "method_not_allowed"),
        ("GET", "/healthz", {"content-length": "5000"}, 400, "bad_request"),
    ],
)
def test_refusals_from_the_headers_read_no_body_and_close(app, method, path, headers, status, code):
    got, out_headers, body, pulled = _call(app, method, path, headers, b"x" * 20000)
    assert (got, body["error"]["code"], pulled) == (status, code, 0)
    assert out_headers["connection"] == "close" and out_headers["x-request-id"]


def test_a_full_queue_refuses_before_the_body_and_retry_after_is_set(app):
    pool = app.state.service.pool

    async def hold_the_only_slot() -> tuple:
        async with pool.admitted():
            return await asyncio.to_thread(
                _call, app, "POST", "/v1/crops", {**FORM, "content-length": "2000", "x-api-key": KEY}, b"x" * 2000)

    status, headers, body, pulled = asyncio.run(hold_the_only_slot())
    assert (status, body["error"]["code"], pulled) == (503, "overloaded", 0)
    assert int(headers["retry-after"]) >= 1


def test_open_routes_and_keyed_requests_pass(app):
    assert _call(app, "GET", "/healthz", {})[0] == 200
    status, _, body, pulled = _call(app, "GET", "/v1/info", {"authorization": f"Bearer {KEY}"})
    assert status == 200 and body["auth"] is True
    # a keyed form with a bad field reaches the app, which reads it and answers 422
    form = b'--xyz\r\nContent-Disposition: form-data; name="k"\r\n\r\n0\r\n--xyz--\r\n'
    status, _, body, pulled = _call(app, "POST", "/v1/crops",
                                    {**FORM, "content-length": str(len(form)), "x-api-key": KEY}, form)
    assert status == 422 and pulled >= 1


def test_key_check_accepts_both_headers_and_refuses_near_misses():
    assert key_accepted({"x-api-key": KEY}, KEY) and key_accepted({"authorization": f"bearer {KEY}"}, KEY)
    assert not key_accepted({"x-api-key": KEY + "x"}, KEY) and not key_accepted({}, KEY)
    assert not key_accepted({"authorization": f"Basic {KEY}"}, KEY)
    assert key_accepted({"x-api-key": "\u00e9\u00e8"}, None)
    assert not key_accepted({"x-api-key": "\u00e9\u00e8"}, KEY)
