"""The service's settings: one validated dataclass built by ``promptcrop serve`` (or by hand)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from promptcrop.options import PredictorOptions

API_KEY_ENV = "PROMPTCROP_API_KEY"
"""Environment variable read when no ``--api-key`` is given."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


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
    - ``timeout_s``: a request waiting or running longer gets ``504``.
    - ``api_key``: when set, every route but ``/healthz``, ``/readyz`` and the page's own files
      needs it (``Authorization: Bearer`` or ``X-API-Key``).
    - ``cors_origins``: origins allowed to call the API from a browser (none: CORS off).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    predictor: PredictorOptions = field(default_factory=PredictorOptions)
    threads: int = 1
    max_queue: int = 16
    max_upload_mb: float = 20.0
    timeout_s: float = 60.0
    api_key: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535, got {self.port!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        if isinstance(self.max_queue, bool) or not isinstance(self.max_queue, int) or self.max_queue < 0:
            raise ValueError(f"max_queue must be an integer >= 0, got {self.max_queue!r}")
        for name in ("max_upload_mb", "timeout_s"):
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
