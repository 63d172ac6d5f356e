"""Connection guards of the HTTP server: uvicorn's h11 protocol with the limits it lacks.

uvicorn holds a connection that never finishes its request headers for ever, and it has no cap
on open connections short of ``limit_concurrency`` (which still reads every request's headers
before it refuses). :func:`guarded_protocol` subclasses its h11 protocol so that:

- **headers arrive in time**: a connection whose request headers are not complete
  ``header_timeout_s`` after it opened (or after the first byte of a keep-alive request) is
  answered ``408`` and closed — slow-header clients ("slowloris") and silent connections alike;
- **connections are capped**: beyond ``max_connections`` open connections, the one that has sent
  nothing for the longest time (at least ``evict_idle_s``: an idle keep-alive connection, a stalled
  upload) is closed to make room; when every connection is busy the new one is answered ``503``
  with ``Retry-After`` before anything is read from it;
- **refusals close gently**: when the service answers before the request body has arrived (a
  refusal from the headers, an oversized upload), the response is sent, the sending side shut,
  and what the client still sends is discarded — at most ``linger_bytes`` for at most
  ``linger_s`` — before the connection closes, so the client reads the answer instead of a reset.
  Nothing of a refused body is parsed or kept.

The body's own pace (a stalled upload) is watched by :class:`~promptcrop.serve.limits.UploadLimit`
while the app reads it; the idle time between keep-alive requests is uvicorn's
``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from promptcrop.serve.errors import error_body

log = logging.getLogger("promptcrop.serve")

#: What a refused connection may still send while its answer is read (then it is closed).
DEFAULT_LINGER_S = 1.0
DEFAULT_LINGER_BYTES = 256 * 1024
#: A connection silent for this long may be closed to make room for a new one.
DEFAULT_EVICT_IDLE_S = 1.0


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection limits (see the module docstring); times in seconds."""

    max_connections: int
    header_timeout_s: float
    retry_after_s: int = 1
    linger_s: float = DEFAULT_LINGER_S
    linger_bytes: int = DEFAULT_LINGER_BYTES
    evict_idle_s: float = DEFAULT_EVICT_IDLE_S

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.header_timeout_s <= 0 or self.linger_s <= 0:
            raise ValueError("max_connections must be >= 1, header_timeout_s and linger_s > 0")


def raw_error(status: int, reason: str, code: str, message: str, extra: tuple[str, ...] = ()) -> bytes:
    """A complete ``HTTP/1.1`` error response with the service's JSON body and ``Connection: close``
    (written straight to a socket that has no request to answer through the app)."""
    body = json.dumps(error_body(code, message), separators=(",", ":")).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}",
            "connection: close", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class ThrottledLog:
    """Counts repeated events and logs each kind at most once per ``interval_s`` with its count,
    so a flood of bad connections cannot flood the log."""

    def __init__(self, logger: logging.Logger, interval_s: float = 5.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._counts: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def note(self, what: str) -> None:
        now = time.monotonic()
        self._counts[what] = self._counts.get(what, 0) + 1
        if now - self._last.get(what, -self.interval_s) >= self.interval_s:
            self.logger.warning("%s: %d since the last report", what, self._counts.pop(what))
            self._last[what] = now


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: ``close()`` lingers when the client is still
    sending (see :meth:`GuardedProtocol.close_gently`); everything else is the real transport."""

    def __init__(self, transport: asyncio.Transport, protocol: Any) -> None:
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_gently()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's ``H11Protocol`` with ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    header_timeout = raw_error(
        408, "Request Timeout", "timeout",
        f"the request headers did not arrive within {limits.header_timeout_s:g} s")
    busy = raw_error(
        503, "Service Unavailable", "overloaded",
        "the server has too many open connections; retry shortly", (f"retry-after: {limits.retry_after_s}",))

    events = ThrottledLog(log)

    class GuardedProtocol(H11Protocol):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._raw = transport
            self.transport = _LingeringTransport(transport, self)  # type: ignore[assignment]
            self._last_data = self.loop.time()
            self._header_timer: asyncio.TimerHandle | None = None
            self._linger_timer: asyncio.TimerHandle | None = None
            self._lingered = -1  # bytes discarded while lingering; -1: not lingering
            if len(self.connections) > limits.max_connections and not self._evict_one():
                self.connections.discard(self)  # it no longer counts: it only lingers
                events.note("connections refused (limit %d open)" % limits.max_connections)
                self._answer_and_close(busy)
                return
            self._header_timer = self.loop.call_later(limits.header_timeout_s, self._header_timed_out)

        def data_received(self, data: bytes) -> None:
            if self._lingered >= 0:
                self._lingered += len(data)
                if self._lingered > limits.linger_bytes:
                    self._close_now()
                return
            self._last_data = self.loop.time()
            super().data_received(data)
            waiting_headers = self.conn.their_state is h11.IDLE
            if waiting_headers and self._header_timer is None and not self._raw.is_closing():
                self._header_timer = self.loop.call_later(limits.header_timeout_s, self._header_timed_out)
            elif not waiting_headers:
                self._cancel_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            if self._linger_timer is not None:
                self._linger_timer.cancel()
            super().connection_lost(exc)

        def eof_received(self) -> bool | None:
            if self._lingered >= 0:  # the client read the answer and closed its side
                self._close_now()
            return super().eof_received()

        # -------------------------------------------------------------- closing

        def close_gently(self) -> None:
            """Close now, unless the client is still sending its request: then shut our side,
            discard what still comes (bounded) and close when the client does or time is up."""
            if self._raw.is_closing() or self._lingered >= 0:
                return
            if self.conn.their_state not in (h11.SEND_BODY, h11.IDLE) or not self._raw.can_write_eof():
                self._close_now()
                return
            self._cancel_header_timer()
            try:
                self._raw.write_eof()
            except OSError:  # the client is gone already
                self._close_now()
                return
            self._lingered = 0
            self._raw.resume_reading()
            self._linger_timer = self.loop.call_later(limits.linger_s, self._close_now)

        def _close_now(self) -> None:
            if not self._raw.is_closing():
                self._raw.close()

        def _answer_and_close(self, response: bytes) -> None:
            if not self._raw.is_closing():
                self._raw.write(response)
            self.close_gently()

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timed_out(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
                events.note(f"connections closed: request headers not complete within {limits.header_timeout_s:g} s")
                self._answer_and_close(header_timeout)

        # -------------------------------------------------------------- the cap

        def idle_s(self) -> float:
            """Seconds since this connection last sent a byte, when it is waiting on its client
            (headers or body not complete, or idle between requests); ``-1`` when the server owes
            it an answer (its request is complete) or its reading is paused by the server."""
            if self._raw.is_closing() or self.flow.read_paused or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
                return -1.0
            return self.loop.time() - self._last_data

        def _evict_one(self) -> bool:
            """Close the connection silent the longest (at least ``evict_idle_s``); False when none is."""
            candidates = [(c.idle_s(), c) for c in self.connections if c is not self and isinstance(c, GuardedProtocol)]
            idle, victim = max(candidates, key=lambda item: item[0], default=(-1.0, None))
            if victim is None or idle < limits.evict_idle_s:
                return False
            events.note(f"connections closed to make room: silent for {limits.evict_idle_s:g} s or more")
            victim._close_now()
            self.connections.discard(victim)
            return True

    return GuardedProtocol
