"""The service's limits: a bounded worker pool for model calls and an upload limit enforced while
the body streams in.

:class:`WorkerPool` runs blocking model calls on ``threads`` worker threads, never on the event
loop. At most ``threads + max_queue`` calls are admitted at once (running or waiting); one more is
refused at once with :class:`Overloaded` (the route answers ``503`` + ``Retry-After``). A call
that waits or runs past ``timeout_s`` raises :class:`TimedOut` (``504``): a call still waiting is
cancelled and never runs; one already running cannot be interrupted in its thread, so it keeps its
admission slot until it returns — abandoned work therefore never exceeds the pool's bound.

:class:`UploadLimit` is a pure ASGI middleware: a declared ``Content-Length`` above the limit is
refused before any byte of the body is read, and a body that grows past the limit while streaming
(chunked, or a lying header) is cut off at that point with ``413``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from promptcrop.serve.errors import ServiceError, error_body

T = TypeVar("T")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Overloaded(ServiceError):
    """Every worker is busy and the queue is full (503)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            503, "overloaded", "the server is busy: every worker is busy and the queue is full; retry shortly",
            headers={"Retry-After": str(retry_after_s)},
        )


class TimedOut(ServiceError):
    """The call waited or ran past the time limit (504)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(504, "timeout", f"the request took longer than the server's limit of {timeout_s:g} s")


class WorkerPool:
    """Bounded execution of blocking calls: ``threads`` at once, ``max_queue`` waiting.

    ``running``: calls executing now; ``waiting``: admitted calls not started yet (the queue
    depth); ``full``: a new call would be refused.
    """

    def __init__(self, threads: int, max_queue: int, timeout_s: float) -> None:
        if threads < 1 or max_queue < 0 or timeout_s <= 0:
            raise ValueError("threads must be >= 1, max_queue >= 0 and timeout_s > 0")
        self.threads = threads
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="promptcrop-worker")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0

    @property
    def capacity(self) -> int:
        return self.threads + self.max_queue

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._admitted - self._running

    @property
    def full(self) -> bool:
        with self._lock:
            return self._admitted >= self.capacity

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker and return its result (its exception propagates).

        Raises:
            Overloaded: no room in the pool or its queue.
            TimedOut: not done within ``timeout_s`` of admission.
        """
        with self._lock:
            if self._admitted >= self.capacity:
                raise Overloaded(retry_after_s=max(1, math.ceil(self.timeout_s / 10)))
            self._admitted += 1
        future = self._executor.submit(self._call, fn, args)
        future.add_done_callback(self._release_if_cancelled)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # a call still waiting never runs; a running one finishes in its thread
            raise TimedOut(self.timeout_s) from None
        except asyncio.CancelledError:
            future.cancel()
            raise

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1
                self._admitted -= 1

    def _release_if_cancelled(self, future: Future[Any]) -> None:
        if future.cancelled():  # cancelled before it started: _call never ran
            with self._lock:
                self._admitted -= 1

    def shutdown(self) -> None:
        """Wait for running calls, drop waiting ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class _BodyTooLarge(Exception):
    pass


class UploadLimit:
    """ASGI middleware refusing request bodies above ``max_bytes`` with ``413`` (see module doc)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:  # whatever the app answers to a cut-off body, the client gets the 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            pass
        if too_large and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit_mb = self.max_bytes / (1024 * 1024)
        message = f"the upload is larger than the server's limit of {limit_mb:g} MB"
        request_id = scope.get("state", {}).get("request_id")
        body = json.dumps(error_body("upload_too_large", message, request_id), separators=(",", ":")).encode()
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
