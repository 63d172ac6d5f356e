"""The URL routes in process (FastAPI's TestClient): who may sign on the page, and that crop URLs
are authenticated by their signature, not the API key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from promptcrop.options import PredictorOptions
from promptcrop.serve.app import create_app
from promptcrop.serve.service import build_predictor
from promptcrop.serve.settings import ServeSettings
from promptcrop.serve.url.settings import UrlSettings
from promptcrop.serve.url.signing import key_pairs, sign_url
from serve_helpers import astronaut_jpeg

KEY, SALT = "9e" * 16, "77"
BODY = {"path": "a.jpg", "options": {"aspect": "1:1", "width": 64}, "widths": [64, 128]}


def _client(folder, api_key=None, keys=True, allow_unsigned=False) -> TestClient:
    url = UrlSettings(sources=(f"photos={folder}",), keys=key_pairs([KEY], [SALT]) if keys else (),
                      allow_unsigned=allow_unsigned)
    settings = ServeSettings(predictor=PredictorOptions(offline=True), api_key=api_key, url=url)
    return TestClient(create_app(settings, build_predictor(settings)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos")
    (path / "a.jpg").write_bytes(astronaut_jpeg())
    return path


def test_with_an_api_key_the_page_gets_signed_urls_and_img_urls_need_no_key(folder):
    with _client(folder, api_key="k") as client:
        assert client.post("/v1/url", json=BODY).status_code == 401
        headers = {"X-API-Key": "k"}
        assert client.get("/v1/url", headers=headers).json() == {
            "sources": ["photos"], "default": "photos", "signing": "signed"}
        answer = client.post("/v1/url", json={**BODY, "base": "https://img.example.com"}, headers=headers).json()
        assert answer["url"] == sign_url("a.jpg", key=KEY, salt=SALT, aspect="1:1", width=64,
                                         base="https://img.example.com")
        assert [s["width"] for s in answer["srcset"]] == [64, 128] and answer["signed"]
        assert 'srcset="' in answer["img"] and " 128w" in answer["img"]
        image = client.get(answer["url"].removeprefix("https://img.example.com"))  # no key sent
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        bad = client.post("/v1/url", json={**BODY, "options": {"zoom": 2}}, headers=headers)
        assert bad.status_code == 400 and "'zoom'" in bad.json()["error"]["message"]
        assert client.post("/v1/url", json={**BODY, "base": "javascript:x"}, headers=headers).status_code == 422


def test_without_an_api_key_nobody_gets_signed_urls(folder):
    with _client(folder) as client:
        assert client.get("/v1/url").json()["signing"] == "none"
        refused = client.post("/v1/url", json=BODY)
        assert refused.status_code == 403 and "--api-key" in refused.json()["error"]["message"]
    with _client(folder, allow_unsigned=True) as client:
        answer = client.post("/v1/url", json=BODY).json()
        assert not answer["signed"] and answer["url"] == "/v1/img/unsafe/ar:1:1/w:64/a.jpg"
        assert client.get(answer["url"]).status_code == 200


def test_a_server_without_sources_has_no_url_routes(folder):
    settings = ServeSettings(predictor=PredictorOptions(offline=True))
    with TestClient(create_app(settings, build_predictor(settings))) as client:
        assert client.get("/v1/url").status_code == 404
        assert client.get(sign_url("a.jpg", key=KEY, salt=SALT)).status_code == 404


def test_a_query_on_a_server_without_weights_is_queries_unavailable(folder):
    with _client(folder) as client:
        response = client.get(sign_url("a.jpg", key=KEY, salt=SALT, query="a cat", width=32))
        assert response.status_code == 422 and response.json()["error"]["code"] == "queries_unavailable"
        assert response.headers["cache-control"] == "no-store"
