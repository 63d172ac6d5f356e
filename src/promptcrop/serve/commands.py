"""``promptcrop serve``: the command line of the HTTP service.

:func:`add_serve_parser` registers the sub-command; FastAPI and uvicorn are imported only when it
runs (a missing ``serve`` extra is a one-line error naming the install command).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from promptcrop.cli.options import add_predictor_options, predictor_options
from promptcrop.request import DEFAULT_MAX_RATIO
from promptcrop.serve.settings import (
    API_KEY_ENV,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_KEEP_ALIVE_S,
    ServeSettings,
)
from promptcrop.serve.url.commands import add_url_options, url_settings_from_args


def add_serve_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the sub-command parsers ``sub``; returns its parser."""
    p = sub.add_parser(
        "serve", help="run the HTTP API and the web page",
        description="Serve the crop API (/v1/crops, /v1/crop) and a web page on one loaded model. "
                    "Listens on loopback unless --host says otherwise.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    add_predictor_options(p, offline_help="never use the network: serve the weight-free mode (queries unavailable)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="model calls running at once (default 1)")
    p.add_argument("--max-queue", type=int, default=16, metavar="N",
                   help="requests waiting for a worker before 503 (default 16)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                   help="largest request body (default 20)")
    p.add_argument("--max-ratio", type=float, default=DEFAULT_MAX_RATIO, metavar="R",
                   help=f"refuse aspect ratios beyond 1:R and R:1 (default {DEFAULT_MAX_RATIO:g})")
    p.add_argument("--timeout-s", type=float, default=60.0, metavar="S",
                   help="504 for a request waiting or running longer; its model call stops at its next "
                        "stage (default 60)")
    p.add_argument("--header-timeout-s", type=float, default=DEFAULT_HEADER_TIMEOUT_S, metavar="S",
                   help=f"408 and close when the request headers take longer (default {DEFAULT_HEADER_TIMEOUT_S:g})")
    p.add_argument("--body-timeout-s", type=float, default=DEFAULT_BODY_TIMEOUT_S, metavar="S",
                   help=f"408 and close when an upload sends nothing for this long (default {DEFAULT_BODY_TIMEOUT_S:g})")
    p.add_argument("--keep-alive-s", type=float, default=DEFAULT_KEEP_ALIVE_S, metavar="S",
                   help=f"close idle keep-alive connections after this long (default {DEFAULT_KEEP_ALIVE_S:g})")
    p.add_argument("--max-connections", type=int, metavar="N",
                   help="open connections at most; beyond it the longest-silent one is closed, else 503 "
                        "(default max(64, 8 x (threads + max-queue)))")
    p.add_argument("--api-key", metavar="KEY", help=f"require this key (default ${API_KEY_ENV} if set)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin, repeatable (default: CORS off)")
    add_url_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of unexpected errors")
    p.set_defaults(handler=run_serve, parser=p)
    return p


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The validated settings of a parsed ``serve`` command line (ValueError on bad values)."""
    return ServeSettings.with_env_key(
        host=args.host, port=args.port, predictor=predictor_options(args), threads=args.threads,
        max_queue=args.max_queue, max_upload_mb=args.max_upload_mb, max_ratio=args.max_ratio,
        timeout_s=args.timeout_s, header_timeout_s=args.header_timeout_s, body_timeout_s=args.body_timeout_s,
        keep_alive_s=args.keep_alive_s, max_connections=args.max_connections, api_key=args.api_key,
        cors_origins=tuple(args.cors_origin), url=url_settings_from_args(args),
    )


def run_serve(args: argparse.Namespace) -> int:
    """Load the model once, then serve until SIGINT / SIGTERM (in-flight requests finish first)."""
    from promptcrop.serve import require_serve_dependencies

    require_serve_dependencies()
    try:
        settings = settings_from_args(args)
    except ValueError as exc:  # RequestError is a ValueError
        from promptcrop.cli import UsageError

        raise UsageError(str(exc)) from None

    import uvicorn

    from promptcrop.serve.app import create_app
    from promptcrop.serve.connections import guarded_protocol
    from promptcrop.serve.service import build_predictor, unavailable_message

    loaded = build_predictor(settings)
    app = create_app(settings, loaded)
    status = ("text and image queries available" if loaded.queries_unavailable is None
              else unavailable_message(loaded.queries_unavailable))
    print(f"promptcrop serve: http://{settings.host}:{settings.port}/ — {status}", file=sys.stderr, flush=True)
    if not settings.loopback and settings.api_key is None:
        print("promptcrop serve: warning: listening beyond loopback without an API key", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", access_log=False,
        timeout_graceful_shutdown=int(settings.timeout_s) + 5, server_header=False,
        http=guarded_protocol(connection_limits(settings)), timeout_keep_alive=settings.keep_alive_s,  # type: ignore[arg-type]
    )
    _server_class(uvicorn)(config).run()
    return 0


def connection_limits(settings: ServeSettings) -> Any:
    """The :class:`~promptcrop.serve.connections.ConnectionLimits` of ``settings``."""
    from promptcrop.serve.connections import ConnectionLimits

    return ConnectionLimits(
        max_connections=settings.max_connections, header_timeout_s=settings.header_timeout_s,  # type: ignore[arg-type]
    )


def _server_class(uvicorn: Any) -> type:
    """uvicorn's Server, except that a stop by SIGTERM / SIGINT after draining the in-flight
    requests exits 0 (uvicorn re-raises the signal once shut down, so the status would say
    "killed" although every request was answered)."""

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server
