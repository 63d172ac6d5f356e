"""Signed crop URLs, in the style imgproxy uses.

``signature = base64url(HMAC-SHA256(key, salt + path))`` without ``=`` padding, where ``path`` is
the URL path after the signature exactly as sent (percent-encoded, starting with ``/``) and key
and salt are bytes given as hex. A URL reads ``/v1/img/{signature}{path}``; the same signature
serves ``/v1/info/{signature}{path}``. Several key pairs may be accepted at once (rotation: add
the new pair, let pages pick it up, then drop the old one); the first pair signs.
``unsafe`` in place of the signature is accepted only by a server started with
``--allow-unsigned``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptcrop.errors import RequestError
from promptcrop.serve.url.grammar import UrlOptions, options_from

UNSIGNED = "unsafe"
IMAGE_PREFIX = "/v1/img"
INFO_PREFIX = "/v1/info"
MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class SigningKey:
    """One key pair (bytes): ``key`` (at least :data:`MIN_KEY_BYTES`) and ``salt``."""

    key: bytes
    salt: bytes

    @classmethod
    def from_hex(cls, key: str, salt: str) -> SigningKey:
        """From hex strings (``openssl rand -hex 32``); :class:`RequestError` when malformed."""
        try:
            key_bytes, salt_bytes = bytes.fromhex(key.strip()), bytes.fromhex(salt.strip())
        except ValueError:
            raise RequestError("URL signing key and salt must be hex strings (e.g. openssl rand -hex 32)") from None
        if len(key_bytes) < MIN_KEY_BYTES:
            raise RequestError(f"a URL signing key needs at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)")
        if not salt_bytes:
            raise RequestError("a URL signing salt must not be empty")
        return cls(key_bytes, salt_bytes)

    def sign(self, path: str) -> str:
        """The signature of ``path`` (the encoded path after the signature, starting with ``/``)."""
        digest = hmac.new(self.key, self.salt + path.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def key_pairs(keys: Sequence[str], salts: Sequence[str]) -> tuple[SigningKey, ...]:
    """Pair ``--url-key`` and ``--url-salt`` values by position."""
    if len(keys) != len(salts):
        raise RequestError(f"give one --url-salt per --url-key ({len(keys)} keys, {len(salts)} salts)")
    return tuple(SigningKey.from_hex(k, s) for k, s in zip(keys, salts))


def verify(signature: str, path: str, keys: Sequence[SigningKey]) -> bool:
    """Whether ``signature`` is a valid signature of ``path`` under any of ``keys`` (every key is
    tried, each in constant time, so the answer's timing does not say which one matched)."""
    given = signature.encode("ascii", errors="replace")
    matched = False
    for pair in keys:
        matched |= hmac.compare_digest(given, pair.sign(path).encode("ascii"))
    return matched


def sign_url(
    path: str,
    *,
    key: str | SigningKey | None,
    salt: str | None = None,
    base: str = "",
    info: bool = False,
    **options: Any,
) -> str:
    """A crop URL for the image at ``path`` inside the source, with ``options`` (the
    :class:`~promptcrop.serve.url.grammar.UrlOptions` fields: ``aspect``, ``width``, ``height``,
    ``query``, ``exclude``, ``fit``, ``pad``, ``rank``, ``format``, ``quality``, ``mode``,
    ``source``), signed with ``key`` and ``salt`` (hex) — or ``unsafe`` when ``key`` is ``None``
    (only a server with ``--allow-unsigned`` answers it). ``base``: the server's origin
    (``https://img.example.com``); ``info``: the ``/v1/info/`` URL of the same crop.

        sign_url("products/123.jpg", key=KEY, salt=SALT, aspect="4:5", width=1080, query="the red car")
    """
    return signed_path(options_from(**options), path, _pair(key, salt), info=info, base=base)


def signed_path(options: UrlOptions, path: str, pair: SigningKey | None, *, info: bool = False,
                base: str = "") -> str:
    """``base + /v1/img/{signature}/{options}/{path}`` for parsed options."""
    tail = options.path(path)
    signature = UNSIGNED if pair is None else pair.sign(tail)
    return f"{base.rstrip('/')}{INFO_PREFIX if info else IMAGE_PREFIX}/{signature}{tail}"


def _pair(key: str | SigningKey | None, salt: str | None) -> SigningKey | None:
    if key is None or isinstance(key, SigningKey):
        return key
    if salt is None:
        raise RequestError("a salt is needed with the key")
    return SigningKey.from_hex(key, salt)
