"""``/docs``: Swagger UI served from the package's own files (works offline, no third-party origin)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from promptcrop.options import PredictorOptions
from promptcrop.serve.app import create_app
from promptcrop.serve.service import build_predictor
from promptcrop.serve.settings import ServeSettings


@pytest.fixture(scope="module")
def client() -> TestClient:
    settings = ServeSettings(predictor=PredictorOptions(offline=True), api_key="k")
    with TestClient(create_app(settings, build_predictor(settings))) as test_client:
        yield test_client


def test_the_docs_page_loads_only_the_servers_own_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: *['\"]([^'\"]+)", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # no other origin
    for url in urls:
        assert client.get(url).status_code == 200, url
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "https:" not in csp and "http:" not in csp


def test_the_docs_and_their_assets_need_no_key_but_the_api_does(client):
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/v1/info").status_code == 401
    limits = client.get("/v1/info", headers={"X-API-Key": "k"}).json()["limits"]
    assert limits["max_ratio"] == 20 and limits["max_k"] == 20 and limits["body_timeout_s"] == 30


def test_the_bundled_swagger_ui_reads_the_openapi_version_fastapi_writes(client):
    from swagger_ui_bundle import swagger_ui_path

    major = int(re.search(r"swagger-ui-(\d+)\.", str(swagger_ui_path)).group(1))
    spec_version = client.get("/openapi.json").json()["openapi"]
    assert major >= 5 or not spec_version.startswith("3.1"), (major, spec_version)  # 4.x cannot render 3.1
