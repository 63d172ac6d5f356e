"""The service's settings: one validated dataclass built by ``promptcrop serve`` (or by hand)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from promptcrop.images import DEFAULT_MAX_PIXELS
from promptcrop.predictor import DEFAULT_MODEL
from promptcrop.serve.url.settings import UrlSettings

API_KEY_ENV = "PROMPTCROP_API_KEY"
"""Environment variable read when no ``--api-key`` is given."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ServeSettings:
    """How the service runs.

    - ``host`` / ``port``: where uvicorn listens (loopback by default; ``port=0`` picks a free one).
    - ``model`` / ``decoder`` / ``offline`` / ``device`` / ``backend`` / ``onnx_dir``: the one
      :class:`~promptcrop.Predictor` (same meaning as the command line's options; ``offline``
      without a decoder serves the weight-free mode).
    - ``threads``: model calls running at once (the worker pool); ``max_queue``: requests that may
      wait for a worker — one more gets ``503`` with ``Retry-After``.
    - ``max_upload_mb``: request bodies above this are refused (``413``) while they stream in.
    - ``max_pixels``: decoded images above this many pixels are refused (``413``).
    - ``timeout_s``: a request waiting or running longer gets ``504``.
    - ``api_key``: when set, every route but ``/healthz``, ``/readyz`` and the page's own files
      needs it (``Authorization: Bearer`` or ``X-API-Key``).
    - ``cors_origins``: origins allowed to call the API from a browser (none: CORS off).
    - ``url``: crops by URL over image sources (:class:`UrlSettings`; ``None``: no ``/v1/img``).
      A source object obeys ``max_upload_mb`` and ``max_pixels`` like an upload.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = DEFAULT_MODEL
    decoder: str | None = None
    offline: bool = False
    device: str = "cpu"
    backend: str = "torch"
    onnx_dir: str | None = None
    threads: int = 1
    max_queue: int = 16
    max_upload_mb: float = 20.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    timeout_s: float = 60.0
    api_key: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    url: UrlSettings | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535, got {self.port!r}")
        for name in ("threads", "max_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
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
