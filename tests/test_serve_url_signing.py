"""URL signatures: imgproxy's scheme (checked against an independent HMAC), rotation, tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from promptcrop.errors import RequestError
from promptcrop.serve.url.signing import SigningKey, key_pairs, sign_url, verify

KEY, SALT = "0f" * 32, "a1b2c3"
OTHER = SigningKey.from_hex("11" * 16, "22")


def _split(url: str) -> tuple[str, str]:
    signature, _, tail = url.removeprefix("/v1/img/").partition("/")
    return signature, "/" + tail


def test_signature_is_hmac_sha256_of_salt_and_path_base64url_unpadded():
    signature, tail = _split(sign_url("products/123.jpg", key=KEY, salt=SALT, aspect="4:5", width=1080))
    assert tail == "/ar:4:5/w:1080/products/123.jpg"
    expected = hmac.new(bytes.fromhex(KEY), bytes.fromhex(SALT) + tail.encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(expected).decode().rstrip("=")
    assert "=" not in signature and len(signature) == 43


def test_verify_accepts_any_configured_pair_and_nothing_altered():
    pair = SigningKey.from_hex(KEY, SALT)
    signature, tail = _split(sign_url("a.jpg", key=KEY, salt=SALT, width=100))
    assert verify(signature, tail, [OTHER, pair]) and verify(signature, tail, [pair])
    assert not verify(signature, tail, [OTHER])
    assert not verify(signature, tail.replace("100", "101"), [pair])
    assert not verify(signature[:-1] + ("A" if signature[-1] != "A" else "B"), tail, [pair])
    assert not verify("", tail, [pair]) and not verify("unsafe", tail, [pair])
    assert not verify("é" * 43, tail, [pair])


def test_unsigned_urls_say_unsafe_and_info_urls_share_the_signature():
    assert sign_url("a.jpg", key=None, width=10) == "/v1/img/unsafe/w:10/a.jpg"
    image = sign_url("a.jpg", key=KEY, salt=SALT, base="https://img.example.com/")
    info = sign_url("a.jpg", key=KEY, salt=SALT, info=True)
    assert image.startswith("https://img.example.com/v1/img/")
    assert _split(image.removeprefix("https://img.example.com"))[0] == info.split("/")[3]


@pytest.mark.parametrize(("key", "salt", "message"), [
    ("zz" * 16, "00", "hex"), ("00" * 8, "00", "16 bytes"), ("00" * 16, "", "salt"),
])
def test_weak_or_malformed_keys_are_refused(key, salt, message):
    with pytest.raises(RequestError, match=message):
        SigningKey.from_hex(key, salt)


def test_keys_and_salts_pair_by_position():
    pairs = key_pairs(["00" * 16, "11" * 16], ["aa", "bb"])
    assert [p.salt for p in pairs] == [b"\xaa", b"\xbb"]
    with pytest.raises(RequestError, match="one --url-salt per --url-key"):
        key_pairs(["00" * 16], [])
