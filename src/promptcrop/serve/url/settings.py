"""Settings of the crop-URL routes (``promptcrop serve --source ...``): one validated dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from promptcrop.errors import RequestError
from promptcrop.serve.url.signing import SigningKey, key_pairs

URL_KEY_ENV = "PROMPTCROP_URL_KEY"
URL_SALT_ENV = "PROMPTCROP_URL_SALT"
"""Environment variables read when no ``--url-key`` / ``--url-salt`` is given (comma-separated
lists for several pairs), so that secrets stay off the command line."""

DEFAULT_MAX_AGE_S = 7 * 24 * 3600
DEFAULT_FALLBACK_MAX_AGE_S = 300
DEFAULT_CACHE_MB = 512.0


@dataclass(frozen=True)
class UrlSettings:
    """How crop URLs are served.

    - ``sources``: ``NAME=ROOT`` or ``ROOT`` specs (a folder or a filesystem URI); the first is
      the default source of a URL without ``src:``.
    - ``keys``: signing key pairs (the first signs; all are accepted); ``allow_unsigned``:
      accept ``/v1/img/unsafe/...`` (development only).
    - ``cache_dir`` / ``cache_mb``: the on-disk result cache (none without a folder).
    - ``max_age_s``: ``Cache-Control: max-age`` of a normal answer; ``fallback_max_age_s``: of an
      answer that fell back (the query was not found, the model gave nothing usable).
    """

    sources: tuple[str, ...]
    keys: tuple[SigningKey, ...] = ()
    allow_unsigned: bool = False
    cache_dir: str | None = None
    cache_mb: float = DEFAULT_CACHE_MB
    max_age_s: int = DEFAULT_MAX_AGE_S
    fallback_max_age_s: int = DEFAULT_FALLBACK_MAX_AGE_S
    widths: tuple[int, ...] = field(default=(320, 640, 960, 1280))

    def __post_init__(self) -> None:
        if not self.sources:
            raise RequestError("crop URLs need at least one --source")
        if not self.keys and not self.allow_unsigned:
            raise RequestError(
                "crop URLs need a signing key: give --url-key and --url-salt (hex), or --allow-unsigned "
                "for development"
            )
        if not isinstance(self.cache_mb, (int, float)) or isinstance(self.cache_mb, bool) or not self.cache_mb > 0:
            raise RequestError(f"cache_mb must be a positive number, got {self.cache_mb!r}")
        for name in ("max_age_s", "fallback_max_age_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RequestError(f"{name} must be an integer >= 0, got {value!r}")

    @property
    def cache_bytes(self) -> int:
        return int(self.cache_mb * 1024 * 1024)

    @classmethod
    def from_options(
        cls, sources: list[str], keys: list[str], salts: list[str], **kwargs: object
    ) -> UrlSettings:
        """From command-line values; keys and salts fall back to :data:`URL_KEY_ENV` /
        :data:`URL_SALT_ENV`."""
        if not keys and not salts:
            keys = env_list(URL_KEY_ENV)
            salts = env_list(URL_SALT_ENV)
        return cls(tuple(sources), key_pairs(keys, salts), **kwargs)  # type: ignore[arg-type]


def env_list(name: str) -> list[str]:
    """The comma-separated values of environment variable ``name``."""
    return [v for v in os.environ.get(name, "").split(",") if v.strip()]
