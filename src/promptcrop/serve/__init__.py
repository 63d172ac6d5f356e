"""``promptcrop serve``: an HTTP API and a web page on the one :class:`~promptcrop.Predictor`.

Modules: :mod:`.settings` (the validated :class:`ServeSettings`), :mod:`.app` (the FastAPI app
factory), :mod:`.routes` (the API and the page), :mod:`.gate` (refusals decided from the request
headers), :mod:`.limits` (worker pool, queue, upload size and stall limits),
:mod:`.connections` (header timeout, connection cap, gentle close: uvicorn's h11 protocol
subclassed), :mod:`.docs` (Swagger UI from packaged assets), :mod:`.metrics` (Prometheus),
:mod:`.errors` (exception → status and JSON error body), :mod:`.commands` (the command line). The page's files are in ``static/`` (plain HTML, CSS and
JavaScript, no third-party origin).

FastAPI, uvicorn, python-multipart, prometheus-client, filelock and swagger-ui-bundle-v2 come with the ``serve`` extra
(``pip install 'promptcrop[serve]'``); :func:`require_serve_dependencies` says so in one line.
"""

from __future__ import annotations

import importlib.util

from promptcrop.errors import PromptcropError

SERVE_MODULES = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "python-multipart": "multipart",
    "prometheus-client": "prometheus_client",
    "swagger-ui-bundle-v2": "swagger_ui_bundle",
    "filelock": "filelock",
}
INSTALL_HINT = "pip install 'promptcrop[serve]'"


def require_serve_dependencies() -> None:
    """Raise :class:`PromptcropError` naming the missing packages and the install command."""
    missing = [dist for dist, module in SERVE_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise PromptcropError(
            f"the service needs {', '.join(missing)} (not installed); install them with: {INSTALL_HINT}"
        )
