"""The service's limits: a bounded worker pool for model calls and an upload limit enforced while
the body streams in.

:class:`WorkerPool` runs blocking model calls on ``threads`` worker threads, never on the event
loop. At most ``threads + max_queue`` calls are admitted at once (running or waiting); one more is
refused at once with :class:`Overloaded` (the route answers ``503`` + ``Retry-After``). A call
that waits or runs past ``timeout_s`` raises :class:`TimedOut` (``504``): a call still waiting is
cancelled and never runs; one already running is told through its
:class:`~promptcrop.deadline.Deadline` (cancelled at once), stops at its next stage boundary and
keeps its admission slot until then — abandoned work therefore never exceeds the pool's bound.

:class:`UploadLimit` is a pure ASGI middleware watching the body as the app reads it: a body that
grows past the limit while streaming (chunked, or a lying header) is cut off at that point with
``413``, and one that stalls longer than the stall timeout with ``408``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import math
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from promptcrop.deadline import Deadline
from promptcrop.errors import DeadlineExceeded
from promptcrop.serve.errors import ServiceError, send_error

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

    A request takes a slot with :meth:`admitted` *before* it reads its upload into memory, so at
    most ``capacity`` uploads are held at once, then runs its call with :meth:`Slot.run`.
    ``running``: calls executing now; ``waiting``: admitted requests not running (reading their
    upload or queued: the queue depth); ``full``: a new request would be refused;
    ``cancelled``: calls that stopped at their deadline (:class:`~promptcrop.errors.DeadlineExceeded`).
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
        self._cancelled = 0
        self.trim_heap = HeapTrimmer()

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

    @property
    def cancelled(self) -> int:
        with self._lock:
            return self._cancelled

    @property
    def retry_after_s(self) -> int:
        """What ``Retry-After`` says when the pool is full."""
        return max(1, math.ceil(self.timeout_s / 10))

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[Slot]:
        """A slot for one request, its :class:`Deadline` ``timeout_s`` from now.

        Raises:
            Overloaded: no room in the pool or its queue (at once).
        """
        with self._lock:
            if self._admitted >= self.capacity:
                raise Overloaded(self.retry_after_s)
            self._admitted += 1
        slot = Slot(self, Deadline.after(self.timeout_s))
        try:
            yield slot
        finally:
            slot.leave()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Admit, then run ``fn(*args)`` on a worker (see :meth:`Slot.run`)."""
        async with self.admitted() as slot:
            return await slot.run(fn, *args)

    def shutdown(self) -> None:
        """Wait for running calls, drop waiting ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class Slot:
    """One admitted request: at most one call at a time on the pool, and its ``deadline``.

    The slot is given back when the request leaves it and its call (if any) has ended: a call
    that outlives its request (timed out) keeps the slot until it stops at its next deadline
    check, so abandoned work never exceeds the pool's bound.
    """

    def __init__(self, pool: WorkerPool, deadline: Deadline) -> None:
        self.pool = pool
        self.deadline = deadline
        self._busy = False  # a call was submitted and has not ended (nor been cancelled unstarted)
        self._left = False
        self._released = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker and return its result (its exception propagates). Pass
        :attr:`deadline` among ``args`` for the call to stop itself once nobody waits for it.

        Raises:
            TimedOut: not done before the deadline (the deadline is then cancelled).
        """
        pool = self.pool
        with pool._lock:
            self._busy = True
        future = pool._executor.submit(self._call, fn, args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=self.deadline.remaining_s)
        except asyncio.TimeoutError:
            self._abandon(future)
            raise TimedOut(pool.timeout_s) from None
        except DeadlineExceeded:
            # the call reached a stage just after the slot's deadline, before the timer above fired:
            # the same time-out, told the same way
            if not self.deadline.expired:
                raise
            self.deadline.cancel()
            raise TimedOut(pool.timeout_s) from None
        except asyncio.CancelledError:  # the client went away
            self._abandon(future)
            raise

    def _abandon(self, future: Future[Any]) -> None:
        self.deadline.cancel()
        if future.cancel():  # still queued: it never runs
            with self.pool._lock:
                self._busy = False

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        pool = self.pool
        with pool._lock:
            pool._running += 1
        try:
            return fn(*args)
        except DeadlineExceeded:
            with pool._lock:
                pool._cancelled += 1
            raise
        finally:
            pool.trim_heap()
            with pool._lock:
                pool._running -= 1
                self._busy = False
                self._release_if_done()

    def leave(self) -> None:
        with self.pool._lock:
            self._left = True
            self._release_if_done()

    def _release_if_done(self) -> None:
        """Give the admission back once (called with the pool's lock held)."""
        if self._left and not self._busy and not self._released:
            self._released = True
            self.pool._admitted -= 1


#: Resident memory a worker may leave above the least seen after any call before it trims the heap.
TRIM_SLACK_BYTES = 64 * 1024 * 1024


class HeapTrimmer:
    """Gives the heap pages that finished calls freed back to the system (glibc
    ``malloc_trim(0)``) once the process holds more than ``slack_bytes`` above the least resident
    memory seen after any call. glibc keeps the freed pages of worker threads' arenas, so without
    it the server stays about one large request's working set bigger after serving one; trimming
    after every call would make ordinary calls fault their pages in again.

    A no-op where there is no glibc or no ``/proc/self/statm``."""

    def __init__(self, slack_bytes: int = TRIM_SLACK_BYTES) -> None:
        self.slack_bytes = slack_bytes
        self.floor: int | None = None
        self._trim = _malloc_trim()

    def __call__(self) -> None:
        rss = _resident_bytes()
        if self._trim is None or rss is None:
            return
        if self.floor is None or rss < self.floor:
            self.floor = rss
        if rss - self.floor > self.slack_bytes:
            self._trim(0)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _BodyRefused(Exception):
    """Raised from the app's ``receive`` when the body is cut off (too large or stalled)."""


class UploadLimit:
    """ASGI middleware watching a request body while the app reads it (see the module docstring):
    past ``max_bytes`` the client gets ``413``; a wait of more than ``stall_timeout_s`` for the next
    chunk gets ``408``. Either answer closes the connection, and whatever the app answered to the
    cut-off body is dropped. (A declared ``Content-Length`` above the limit never gets here:
    :class:`~promptcrop.serve.gate.RequestGate` refuses it from the headers.)"""

    def __init__(self, app: ASGIApp, max_bytes: int, stall_timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.stall_timeout_s = stall_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        body_done = False
        started = False
        refusal: tuple[int, str, str] | None = None

        async def limited_receive() -> Message:
            nonlocal received, body_done, refusal
            if body_done:  # after the body: waiting for a disconnect is not a stall
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.stall_timeout_s)
            except asyncio.TimeoutError:
                refusal = (408, "timeout", f"the request body stalled for more than {self.stall_timeout_s:g} s")
                raise _BodyRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_bytes:
                    refusal = (413, "upload_too_large", upload_too_large_message(self.max_bytes))
                    raise _BodyRefused
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refusal is not None:  # whatever the app answers to a cut-off body, the client gets the refusal
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyRefused:
            pass
        if refusal is not None and not started:
            await send_error(send, *refusal, request_id=scope.get("state", {}).get("request_id"))


def upload_too_large_message(max_bytes: int) -> str:
    """The one line of a ``413`` for an upload above ``max_bytes``."""
    return f"the upload is larger than the server's limit of {max_bytes / (1024 * 1024):g} MB"
