"""Prometheus metrics of one app (its own registry, so several apps can live in one process).

- ``promptcrop_http_requests_total{route, method, status}`` — answered requests;
- ``promptcrop_http_request_duration_seconds{route}`` — latency histogram;
- ``promptcrop_http_requests_in_flight`` — requests being received, processed or answered;
- ``promptcrop_queue_depth`` — model calls waiting for a worker;
- ``promptcrop_model_calls_running`` — model calls running on a worker;
- ``promptcrop_model_calls_cancelled_total`` — model calls stopped at their deadline (the request
  timed out or its client left) before they ended.

Label values are bounded, so no request can blow up the number of series: ``route`` is the
route's path template (``/v1/crops``), ``unmatched`` for unknown paths; ``method`` one of
:data:`METHODS` or ``other``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from promptcrop.serve.limits import ASGIApp, Message, Receive, Scope, Send, WorkerPool

CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceMetrics:
    """The app's collectors; :meth:`render` gives the Prometheus text exposition."""

    def __init__(self, pool: WorkerPool) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "promptcrop_http_requests", "HTTP requests answered", ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "promptcrop_http_request_duration_seconds", "HTTP request latency", ["route"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge("promptcrop_http_requests_in_flight", "HTTP requests in progress",
                               registry=self.registry)
        queue = Gauge("promptcrop_queue_depth", "model calls waiting for a worker", registry=self.registry)
        queue.set_function(lambda: pool.waiting)
        running = Gauge("promptcrop_model_calls_running", "model calls running", registry=self.registry)
        running.set_function(lambda: pool.running)
        self.registry.register(_CancelledCalls(pool))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting every HTTP request (including refused ones) by route."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight.dec()
            route = _route_label(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method if method in METHODS else "other", str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


class _CancelledCalls:
    """A collector reading the pool's count of calls stopped at their deadline."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool

    def collect(self) -> Any:
        yield CounterMetricFamily(
            "promptcrop_model_calls_cancelled", "model calls stopped at their deadline", value=self.pool.cancelled)


def _route_label(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
