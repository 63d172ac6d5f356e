"""The service's settings: one validated dataclass built by ``promptcrop serve`` (or by hand)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from promptcrop.options import PredictorOptions
from promptcrop.request import DEFAULT_MAX_RATIO
from promptcrop.serve.url.settings import UrlSettings

API_KEY_ENV = "PROMPTCROP_API_KEY"
"""Environment variable read when no ``--api-key`` is given."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 5.0
#: Connections allowed per admitted request (running or queued), and the floor of the cap.
CONNECTIONS_PER_SLOT = 8
MIN_CONNECTIONS = 64


def default_max_connections(threads: int, max_queue: int) -> int:
    """The connection cap when none is given: room for every admitted request's connection and
    as many again uploading, probing or keeping alive (``max(64, 8 × (threads + max_queue))``)."""
    return max(MIN_CONNECTIONS, CONNECTIONS_PER_SLOT * (threads + max_queue))


@dataclass(frozen=True)
class ServeSettings:
    """How the service runs.

    - ``host`` / ``port``: where uvicorn listens (loopback by default; ``port=0`` picks a free one).
    - ``predictor``: the one :class:`~promptcrop.Predictor`'s options
      (:class:`~promptcrop.options.PredictorOptions`, as on the command line; ``offline`` without
      a decoder serves the weight-free mode; its ``max_pixels``: decoded images above this many
      pixels are refused, ``413``).
    - ``threads``: model calls running at once (the worker pool); ``max_queue``: requests that may
      wait for a worker — one more gets ``503`` with ``Retry-After``.
    - ``max_upload_mb``: request bodies above this are refused (``413``) while they stream in.
    - ``max_ratio``: aspect ratios between ``1:max_ratio`` and ``max_ratio:1`` (``422`` beyond);
      the other bounds of a request are :class:`~promptcrop.request.RequestLimits`' defaults; an
      output canvas (an exact size, a padded crop) above ``predictor.max_pixels`` is ``422`` too.
    - ``timeout_s``: a request waiting or running longer gets ``504``; its model call stops at
      its next stage boundary.
    - ``header_timeout_s``: a connection whose request headers are not complete this long after
      it opened (or after the first byte of a keep-alive request) gets ``408`` and is closed.
    - ``body_timeout_s``: an upload that sends nothing for this long gets ``408`` and is closed.
    - ``keep_alive_s``: an idle keep-alive connection is closed after this long.
    - ``max_connections``: open connections at most; beyond it the longest-silent connection is
      closed, or the new one answered ``503`` when none is silent (default
      :func:`default_max_connections` of ``threads`` and ``max_queue``).
    - ``api_key``: when set, every route but ``/healthz``, ``/readyz`` and the page's own files
      needs it (``Authorization: Bearer`` or ``X-API-Key``).
    - ``cors_origins``: origins allowed to call the API from a browser (none: CORS off).
    - ``url``: crops by URL over image sources (:class:`UrlSettings`; ``None``: no ``/v1/img``).
      A source object obeys ``max_upload_mb`` and ``max_pixels`` like an upload.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    predictor: PredictorOptions = field(default_factory=PredictorOptions)
    threads: int = 1
    max_queue: int = 16
    max_upload_mb: float = 20.0
    max_ratio: float = DEFAULT_MAX_RATIO
    timeout_s: float = 60.0
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S
    max_connections: int | None = None
    api_key: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    url: UrlSettings | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535, got {self.port!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        if isinstance(self.max_queue, bool) or not isinstance(self.max_queue, int) or self.max_queue < 0:
            raise ValueError(f"max_queue must be an integer >= 0, got {self.max_queue!r}")
        if self.max_connections is None:
            object.__setattr__(self, "max_connections", default_max_connections(self.threads, self.max_queue))
        elif isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int) or self.max_connections < 1:
            raise ValueError(f"max_connections must be a positive integer, got {self.max_connections!r}")
        if isinstance(self.max_ratio, bool) or not isinstance(self.max_ratio, (int, float)) or not self.max_ratio >= 1:
            raise ValueError(f"max_ratio must be a number >= 1, got {self.max_ratio!r}")
        for name in ("max_upload_mb", "timeout_s", "header_timeout_s", "body_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be empty (leave it unset for an open service)")
        origins = tuple(self.cors_origins)
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin must be '*' or start with http:// or https://, got {origin!r}")
        object.__setattr__(self, "cors_origins", origins)

    @property
    def max_pixels(self) -> int:
        """Decoded images above this many pixels are refused (the predictor's limit)."""
        return self.predictor.max_pixels

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes (``max_upload_mb`` MiB)."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def loopback(self) -> bool:
        """Whether the service listens on the loopback interface only."""
        return self.host in LOOPBACK_HOSTS

    @classmethod
    def with_env_key(cls, **kwargs: object) -> ServeSettings:
        """Settings whose ``api_key`` falls back to ``$PROMPTCROP_API_KEY`` when not given."""
        if kwargs.get("api_key") is None:
            kwargs["api_key"] = os.environ.get(API_KEY_ENV) or None
        return cls(**kwargs)  # type: ignore[arg-type]
