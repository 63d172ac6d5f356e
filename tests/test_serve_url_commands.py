"""``promptcrop sign-url`` and ``serve``'s URL options: URLs a server verifies, one-line usage errors."""

from __future__ import annotations

import pytest

from promptcrop.cli import main
from promptcrop.cli.main import build_parser
from promptcrop.serve.commands import settings_from_args
from promptcrop.serve.url.signing import SigningKey, verify

KEY, SALT = "ab" * 16, "0011"


def test_sign_url_prints_a_url_the_key_verifies(capsys):
    code = main(["sign-url", "--key", KEY, "--salt", SALT, "--aspect", "4:5", "--width", "1080", "--query",
                 "the red car", "--format", "webp", "--base", "https://img.example.com", "products/123.jpg"])
    url = capsys.readouterr().out.strip()
    assert code == 0
    signature, _, tail = url.removeprefix("https://img.example.com/v1/img/").partition("/")
    assert "/" + tail == "/ar:4:5/w:1080/q:the%20red%20car/fmt:webp/products/123.jpg"
    assert verify(signature, "/" + tail, [SigningKey.from_hex(KEY, SALT)])


def test_sign_url_reads_the_environment_and_writes_info_urls(capsys, monkeypatch):
    monkeypatch.setenv("PROMPTCROP_URL_KEY", f"{KEY},{'cd' * 16}")
    monkeypatch.setenv("PROMPTCROP_URL_SALT", f"{SALT},ee")
    assert main(["sign-url", "--info", "--fit", "pad", "--pad", "ffffff", "--width", "10", "--height", "5", "a.jpg"]) == 0
    url = capsys.readouterr().out.strip()
    signature, _, tail = url.removeprefix("/v1/info/").partition("/")
    assert "/" + tail == "/w:10/h:5/fit:pad:ffffff/a.jpg"
    assert verify(signature, "/" + tail, [SigningKey.from_hex(KEY, SALT)])


@pytest.mark.parametrize(("argv", "message"), [
    (["sign-url", "a.jpg"], "give --key and --salt"),
    (["sign-url", "--key", KEY, "--salt", SALT, "--aspect", "0:1", "a.jpg"], "invalid aspect ratio"),
    (["sign-url", "--key", KEY, "--salt", SALT, "--pad", "fff", "a.jpg"], "pad colour needs fit:pad"),
    (["sign-url", "--key", "12", "--salt", SALT, "a.jpg"], "16 bytes"),
    (["sign-url", "--unsigned", "--rank", "99", "a.jpg"], "k:"),
])
def test_sign_url_usage_errors_are_one_line(capsys, monkeypatch, argv, message):
    monkeypatch.delenv("PROMPTCROP_URL_KEY", raising=False)
    monkeypatch.delenv("PROMPTCROP_URL_SALT", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("promptcrop: error: ") and message in err[-1]


def _serve_args(*extra: str):
    return build_parser().parse_args(["serve", "--offline", *extra])


def test_serve_url_options_build_url_settings(tmp_path):
    args = _serve_args("--source", f"photos={tmp_path}", "--url-key", KEY, "--url-salt", SALT,
                       "--url-key", "cd" * 16, "--url-salt", "ee", "--cache-dir", str(tmp_path / "c"),
                       "--cache-mb", "64", "--max-age", "60", "--fallback-max-age", "5")
    url = settings_from_args(args).url
    assert url is not None and url.sources == (f"photos={tmp_path}",) and len(url.keys) == 2
    assert (url.cache_bytes, url.max_age_s, url.fallback_max_age_s) == (64 * 2**20, 60, 5)
    assert settings_from_args(_serve_args()).url is None


@pytest.mark.parametrize(("extra", "message"), [
    (("--url-key", KEY, "--url-salt", SALT), "need a --source"),
    (("--source", "."), "need a signing key"),
    (("--source", ".", "--url-key", KEY), "one --url-salt per --url-key"),
    (("--source", ".", "--allow-unsigned", "--cache-mb", "0"), "cache_mb"),
])
def test_serve_url_option_errors(extra, message):
    with pytest.raises(ValueError, match=message):
        settings_from_args(_serve_args(*extra))
