"""``/docs``: the interactive API page (Swagger UI) served from the service's own files.

FastAPI's default page loads Swagger UI's script and style sheet from a CDN, so it stays blank on
a machine without internet and lets a third party's script run on the service's origin. Here the
assets come from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads the OpenAPI 3.1
that FastAPI writes; installed with the ``serve`` extra), mounted
under ``/docs/assets``; the page gets a CSP allowing its own origin only (Swagger UI's
start-up script is inline, hence ``'unsafe-inline'`` for this page alone). ReDoc, which has no
packaged copy, is not served.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from the packaged assets (the app was built with
    ``docs_url=None, redoc_url=None``)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"), title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )
