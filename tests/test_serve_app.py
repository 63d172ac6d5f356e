"""Every route and error code of the service through FastAPI's test client, in the weight-free
offline mode and on a tiny local OWL-ViT (text query and query image)."""

from __future__ import annotations

import io
import logging

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from promptcrop.predictor import Predictor
from promptcrop.results import build_record
from promptcrop.serve.app import CONTENT_SECURITY_POLICY, create_app
from promptcrop.serve.service import build_predictor
from promptcrop.serve.settings import ServeSettings
from serve_helpers import astronaut_jpeg, encode, noise_png, serve_settings

LIMITS = {"max_upload_mb": 1.0, "max_pixels": 700 * 700}


def _client(**settings) -> TestClient:
    config = serve_settings(**settings)
    return TestClient(create_app(config, build_predictor(config)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def offline() -> TestClient:
    with _client(offline=True, **LIMITS) as client:
        yield client


@pytest.fixture(scope="module")
def tiny(tiny_owlvit_dir) -> TestClient:
    with _client(model=str(tiny_owlvit_dir), **LIMITS) as client:
        yield client


@pytest.fixture(scope="module")
def photo() -> bytes:
    return astronaut_jpeg()


def _post(client: TestClient, route: str, image: bytes | None, data=None, **files):
    parts = {name: (f"{name}.bin", content, "application/octet-stream") for name, content in files.items()}
    if image is not None:
        parts["image"] = ("photo.jpg", image, "image/jpeg")
    return client.post(route, files=parts, data=data or {})


def _without_timings(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "timings"}


def _predictor(client: TestClient) -> Predictor:
    return client.app.state.service.predictor


# --------------------------------------------------------------------------- the crop routes


def test_crops_record_is_the_predictors_record_for_the_same_input(offline, photo):
    data = {"aspect": ["1:1", "16:9"], "k": "2", "focus": "100,50,300,250", "fit": "pad"}
    response = _post(offline, "/v1/crops", photo, data)
    assert response.status_code == 200, response.text
    record = response.json()
    expected = build_record(_predictor(offline).predict(
        photo, aspect=["1:1", "16:9"], k=2, focus=[(100, 50, 300, 250)], fit="pad"))
    assert _without_timings(record) == _without_timings(expected)
    assert record["schema"] == 1 and record["mode"] == "offline"
    assert {c["ratio"] for c in record["crops"]} == {"1:1", "16:9"}
    assert all("file" not in c for c in record["crops"]) and "overlay" not in record


def test_explain_adds_the_score_breakdown(offline, photo):
    record = _post(offline, "/v1/crops", photo, {"explain": "true", "k": "1"}).json()
    assert record["crops"][0]["explain"]


def test_crop_returns_the_best_crops_image_with_its_box_in_headers(offline, photo):
    record = _post(offline, "/v1/crops", photo, {"aspect": "4:5"}).json()
    response = _post(offline, "/v1/crop", photo, {"aspect": "4:5"})
    assert response.status_code == 200
    best = record["crops"][0]
    assert response.headers["x-promptcrop-box"] == ",".join(map(str, best["box"]))
    assert float(response.headers["x-promptcrop-score"]) == pytest.approx(best["score"], abs=1e-6)
    assert response.headers["x-promptcrop-mode"] == "offline"
    image = Image.open(io.BytesIO(response.content))
    assert response.headers["content-type"] == "image/jpeg" and image.format == "JPEG"  # the input's
    assert image.size == tuple(best["size"])


@pytest.mark.parametrize(("fmt", "pillow", "media"), [("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp")])
def test_crop_resizes_to_size_in_the_asked_format(offline, photo, fmt, pillow, media):
    response = _post(offline, "/v1/crop", photo, {"size": "300x200", "format": fmt, "fit": "pad"})
    image = Image.open(io.BytesIO(response.content))
    assert (response.headers["content-type"], image.format, image.size) == (media, pillow, (300, 200))


# --------------------------------------------------------------------------- errors


def _corrupt_jpeg(photo: bytes) -> bytes:
    return photo[: len(photo) // 3]


@pytest.mark.parametrize(
    ("route", "image", "data", "status", "code", "says"),
    [
        ("/v1/crops", b"just some text", {}, 415, "not_an_image", "not an image"),
        ("/v1/crop", b"just some text", {}, 415, "not_an_image", "not an image"),
        ("/v1/crops", "corrupt", {}, 422, "bad_image", "corrupt"),
        ("/v1/crops", b"", {}, 422, "bad_image", "empty"),
        ("/v1/crops", "huge", {}, 413, "image_too_large", "pixels"),
        ("/v1/crops", b"x" * (1024 * 1024 + 10), {}, 413, "upload_too_large", "1 MB"),
        ("/v1/crops", None, {"k": "2"}, 422, "bad_request", "image"),
        ("/v1/crops", "photo", {"k": "0"}, 422, "bad_request", "k"),
        ("/v1/crops", "photo", {"k": "many"}, 422, "bad_request", "k"),
        ("/v1/crops", "photo", {"aspect": "wide"}, 422, "bad_request", "aspect ratio"),
        ("/v1/crops", "photo", {"aspect": "1:1", "size": "10x10"}, 422, "bad_request", "size"),
        ("/v1/crops", "photo", {"size": "big"}, 422, "bad_request", "size"),
        ("/v1/crop", "photo", {"size": "100000x100000"}, 422, "bad_request", "size: the output canvas 100000x100000"),
        ("/v1/crops", "photo", {"fit": "stretch"}, 422, "bad_request", "fit"),
        ("/v1/crops", "photo", {"focus": "1,2,3"}, 422, "bad_request", "focus"),
        ("/v1/crops", "photo", {"avoid": "5,5,1,1"}, 422, "bad_request", "avoid"),
        ("/v1/crop", "photo", {"format": "gif"}, 422, "bad_request", "format"),
        ("/v1/crops", "photo", {"query": "the astronaut"}, 422, "queries_unavailable", "--offline"),
        ("/v1/crops", "photo", {"exclude": "the flag"}, 422, "queries_unavailable", "exclude needs the OWL-ViT"),
    ],
)
def test_bad_input_gets_one_json_error_line(offline, photo, route, image, data, status, code, says):
    content = {"corrupt": _corrupt_jpeg(photo), "huge": encode(Image.new("RGB", (800, 800)), "PNG"),
               "photo": photo}.get(image, image) if isinstance(image, str) else image
    response = _post(offline, route, content, data)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    assert says in body["error"]["message"] and "\n" not in body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text


def test_a_query_image_without_weights_is_unavailable_too(offline, photo):
    response = _post(offline, "/v1/crops", photo, query_image=photo)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "queries_unavailable")


def test_unexpected_errors_are_500_with_a_request_id_and_no_internals(offline, photo, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(_predictor(offline), "predict_batch", broken)
    with caplog.at_level(logging.ERROR, logger="promptcrop.serve"):
        response = _post(offline, "/v1/crops", photo)
    body = response.json()["error"]
    assert response.status_code == 500 and body["code"] == "internal"
    assert "secret" not in response.text and body["request_id"] in body["message"]
    assert body["request_id"] in caplog.text and "secret internals" in caplog.text


def test_a_request_past_the_time_limit_gets_504(photo, monkeypatch):
    import time

    with _client(offline=True, timeout_s=0.05) as client:
        real = _predictor(client).predict_batch
        monkeypatch.setattr(_predictor(client), "predict_batch", lambda *a, **kw: (time.sleep(0.3), real(*a, **kw))[1])
        response = _post(client, "/v1/crops", photo)
    assert (response.status_code, response.json()["error"]["code"]) == (504, "timeout")


def test_unknown_route_and_method_are_json_errors(offline):
    assert offline.get("/v2/nothing").json()["error"]["code"] == "not_found"
    response = offline.get("/v1/crops")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")


# --------------------------------------------------------------------------- info, probes, metrics


def test_info_says_queries_are_unavailable_offline_and_how_to_enable_them(offline):
    info = offline.get("/v1/info").json()
    assert info["modes"] == ["offline"] and info["queries_available"] is False
    assert "promptcrop download" in info["queries_unavailable"]
    assert info["limits"]["max_upload_mb"] == 1.0 and info["limits"]["max_pixels"] == 700 * 700


def test_probes_and_metrics(offline, photo):
    assert offline.get("/healthz").json() == {"status": "ok"}
    assert offline.get("/readyz").json()["status"] == "ready"
    _post(offline, "/v1/crops", photo)
    text = offline.get("/metrics").text
    assert 'promptcrop_http_requests_total{method="POST",route="/v1/crops",status="200"}' in text
    assert "promptcrop_http_request_duration_seconds_bucket" in text
    assert "promptcrop_queue_depth 0.0" in text and "promptcrop_model_calls_running 0.0" in text


def test_openapi_lists_the_routes(offline):
    paths = offline.get("/openapi.json").json()["paths"]
    assert {"/v1/crops", "/v1/crop", "/v1/info", "/healthz", "/readyz", "/metrics"} <= set(paths)
    assert offline.get("/docs").status_code == 200


# --------------------------------------------------------------------------- the page, security


def test_page_has_a_strict_csp_and_no_inline_script_or_third_party(offline):
    response = offline.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY and "unsafe-inline" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert "<script>" not in html and "<script src=\"/static/app.js\"" in html
    for asset in ("/static/app.js", "/static/style.css"):
        text = offline.get(asset).text
        assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
        html += text
    assert "https://" not in html


def test_api_key_guards_everything_but_probes_and_page(photo, monkeypatch):
    monkeypatch.setenv("PROMPTCROP_API_KEY", "s3cret")
    with _client(**{"offline": True, "api_key": ServeSettings.with_env_key().api_key}) as client:
        for route in ("/v1/info", "/metrics"):
            response = client.get(route)
            assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthorized")
        assert _post(client, "/v1/crops", photo).status_code == 401
        assert client.get("/v1/info", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/v1/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/info", headers={"X-API-Key": "s3cret"}).json()["auth"] is True
        assert _post(client, "/v1/crops", photo).status_code == 401
        for public in ("/healthz", "/readyz", "/", "/static/app.js"):
            assert client.get(public).status_code == 200


def test_cors_is_off_unless_an_origin_is_given():
    preflight = {"Origin": "http://cms.example", "Access-Control-Request-Method": "POST"}
    with _client(offline=True) as closed:
        assert "access-control-allow-origin" not in closed.options("/v1/crops", headers=preflight).headers
    with _client(offline=True, cors_origins=("http://cms.example",)) as open_:
        response = open_.options("/v1/crops", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "http://cms.example"


# --------------------------------------------------------------------------- a tiny OWL-ViT


def test_text_query_record_equals_the_predictors(tiny, photo):
    response = _post(tiny, "/v1/crops", photo, {"query": "the astronaut and the flag", "aspect": "1:1", "k": "2"})
    assert response.status_code == 200, response.text
    record = response.json()
    expected = build_record(_predictor(tiny).predict(photo, query="the astronaut and the flag", aspect="1:1", k=2))
    assert _without_timings(record) == _without_timings(expected)
    assert record["mode"] == "zeroshot" and record["query"] == "the astronaut and the flag"


def test_query_image_record_equals_the_predictors(tiny, photo):
    example = noise_png(64, 48, seed=3)
    response = _post(tiny, "/v1/crops", photo, {"aspect": "16:9", "k": "1"}, query_image=example)
    assert response.status_code == 200, response.text
    expected = _predictor(tiny).predict(photo, query_image=example, aspect="16:9", k=1)
    assert [c["box"] for c in response.json()["crops"]] == [list(c.box) for c in expected]
    assert response.json()["mode"] == "zeroshot"


def test_repeated_exclude_fields_reach_the_predictor_as_the_cli_sends_them(tiny, photo):
    phrases = ["the flag", "the man on the left"]
    data = {"aspect": "1:1", "k": "2", "exclude": phrases}
    for route in ("/v1/crops", "/v1/crop"):
        response = _post(tiny, route, photo, data)
        assert response.status_code == 200, response.text
    expected = _predictor(tiny).predict(photo, aspect="1:1", k=2, exclude=phrases)
    plain = _predictor(tiny).predict(photo, aspect="1:1", k=2)
    record = _post(tiny, "/v1/crops", photo, data).json()
    assert _without_timings(record) == _without_timings(build_record(expected))
    assert response.headers["x-promptcrop-box"] == ",".join(str(v) for v in expected[0].box)
    assert expected.mode == "zeroshot" and [c.score for c in expected] != [c.score for c in plain]
    blank = _post(tiny, "/v1/crops", photo, {"aspect": "1:1", "k": "2", "exclude": ["  "]}).json()
    assert _without_timings(blank) == _without_timings(build_record(plain))  # empty fields are dropped


def test_text_and_image_query_together_is_a_bad_request(tiny, photo):
    response = _post(tiny, "/v1/crops", photo, {"query": "a face"}, query_image=photo)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "bad_request")


def test_info_on_the_tiny_model(tiny, tiny_owlvit_dir):
    info = tiny.get("/v1/info").json()
    assert info["queries_available"] is True and "zeroshot" in info["modes"]
    assert info["model"] == str(tiny_owlvit_dir) and info["queries_unavailable"] is None


def test_missing_weights_start_in_the_offline_mode_with_the_reason(tmp_path, photo):
    with _client(model=str(tmp_path / "no-such-model")) as client:
        info = client.get("/v1/info").json()
        assert info["queries_available"] is False and "no-such-model" in info["queries_unavailable"]
        assert _post(client, "/v1/crops", photo).json()["mode"] == "offline"
        refused = _post(client, "/v1/crops", photo, {"query": "a face"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "queries_unavailable")


# --------------------------------------------------------------------------- hostile requests


def test_paths_named_by_a_client_are_never_opened(offline, photo, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(photo)
    # a path in place of an uploaded file is not a file: refused, never read
    for field in ("image", "query_image"):
        response = offline.post("/v1/crops", data={field: str(secret)},
                                files={"image": ("a.jpg", photo, "image/jpeg")} if field != "image" else None)
        assert response.status_code == 422 and response.json()["error"] == {
            "code": "bad_request", "request_id": response.headers["x-request-id"],
            "message": f"{field}: must be an uploaded file (a multipart file part), not a text field"}
    # an upload's file name is not used either
    response = offline.post("/v1/crops", files={"image": ("../../../etc/passwd", photo, "image/jpeg")})
    assert response.status_code == 200 and response.json()["input"] is None


def test_static_files_stay_inside_the_package(offline):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        response = offline.get(path)
        assert response.status_code == 404 and "def create_app" not in response.text


def test_readyz_says_busy_while_the_pool_and_queue_are_full(photo):
    import threading

    with _client(offline=True, threads=1, max_queue=0) as client:
        pool = client.app.state.service.pool
        release = threading.Event()
        running = client.portal.start_task_soon(pool.run, release.wait, 10)
        try:
            for _ in range(100):
                if pool.running:
                    break
                threading.Event().wait(0.01)
            busy = client.get("/readyz")
            assert (busy.status_code, busy.json()["status"]) == (503, "busy")
            refused = _post(client, "/v1/crops", photo)
            assert (refused.status_code, refused.json()["error"]["code"]) == (503, "overloaded")
            assert int(refused.headers["retry-after"]) >= 1
        finally:
            release.set()
            running.result(10)
        assert client.get("/readyz").status_code == 200
