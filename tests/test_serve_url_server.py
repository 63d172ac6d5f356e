"""Crops by URL through a real server: ``promptcrop serve --source ...`` (uvicorn) in a subprocess
on a free loopback port, on the tiny OWL-ViT, with an audit hook recording every file the
process opens or lists outside the source root (tests/url_audit_server.py).

Covers the grammar, signatures (good, bad, rotated key, unsigned refused), path escapes, ETag /
304 / HEAD, cache hits that never render (the ``promptcrop_url_renders_total`` counter), the
cache's size bound, the fallback's short max-age, a ``file://`` source through pyarrow's
filesystem layer, source errors and the upload limits applied to source objects.
"""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from promptcrop.serve.url.signing import SigningKey, sign_url
from serve_helpers import ServerProcess, astronaut_jpeg, encode, raw_get, start_server

K1, S1 = "a0" * 32, "5a17"
K2, S2 = "0b" * 16, "c0ffee"
MAX_AGE, FALLBACK_MAX_AGE = 1000, 7
CACHE_MB = 0.3
MAX_PIXELS = 4_000_000
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"
AUDIT_SCRIPT = str(Path(__file__).with_name("url_audit_server.py"))


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("url")
    root, outside, store = base / "root", base / "outside", base / "store"
    for folder in (root / "sub", outside, store):
        folder.mkdir(parents=True)
    photo = astronaut_jpeg()
    (root / "astronaut.jpg").write_bytes(photo)
    (root / "sub" / "astronaut.jpg").write_bytes(photo)
    (store / "astronaut.jpg").write_bytes(photo)
    (root / "huge.png").write_bytes(encode(Image.new("RGB", (2100, 2000), (90, 120, 200)), "PNG"))
    (root / "heavy.jpg").write_bytes(np.random.default_rng(0).bytes(int(1.5 * 2**20)))
    (root / "notes.jpg").write_text("not a photo\n")
    (outside / "secret.jpg").write_bytes(SECRET)
    (root / "abs_out.jpg").symlink_to(outside / "secret.jpg")
    (root / "rel_out.jpg").symlink_to("../outside/secret.jpg")
    (root / "dir_out").symlink_to(outside)
    (root / "in_link.jpg").symlink_to("sub/astronaut.jpg")
    return {"base": base, "root": root, "outside": outside, "store": store, "cache": base / "cache",
            "audit": base / "audit.log"}


def _server_args(layout: dict[str, Path], model: Path) -> list[str]:
    return [
        "--model", str(model), "--threads", "2", "--max-upload-mb", "1", "--max-pixels", str(MAX_PIXELS),
        "--source", f"photos={layout['root']}", "--source", f"store=file://{layout['store']}",
        "--source", f"flaky=flaky://{layout['root']}",
        "--url-key", K1, "--url-salt", S1, "--url-key", K2, "--url-salt", S2,
        "--cache-dir", str(layout["cache"]), "--cache-mb", str(CACHE_MB),
        "--max-age", str(MAX_AGE), "--fallback-max-age", str(FALLBACK_MAX_AGE),
    ]


def _start(layout: dict[str, Path], model: Path, name: str) -> ServerProcess:
    layout["audit"].touch()
    logs = layout["base"] / name
    logs.mkdir()
    return start_server(
        logs, *_server_args(layout, model), entry=(AUDIT_SCRIPT,),
        env={"PROMPTCROP_AUDIT_DIR": str(layout["outside"]), "PROMPTCROP_AUDIT_LOG": str(layout["audit"])},
    )


@pytest.fixture(scope="module")
def server(layout, tiny_owlvit_dir) -> ServerProcess:
    process = _start(layout, tiny_owlvit_dir, "first")
    yield process
    process.stop(signal.SIGKILL)


def _url(server: ServerProcess, path: str, key: tuple[str, str] = (K1, S1), **options) -> str:
    return server.url + sign_url(path, key=key[0], salt=key[1], **options)


def _renders(server: ServerProcess) -> float:
    for line in httpx.get(server.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("promptcrop_url_renders_total "):
            return float(line.split()[1])
    return 0.0


def _raw_get(server: ServerProcess, target: str) -> tuple[int, bytes]:
    return raw_get(server.port, target)


def _signed_raw(tail: str, key: tuple[str, str] = (K1, S1)) -> str:
    return f"/v1/img/{SigningKey.from_hex(*key).sign(tail)}{tail}"


# ------------------------------------------------------------------ the crop and its headers


def test_a_signed_url_answers_the_crop_the_library_makes(server, layout, tiny_owlvit_dir):
    from promptcrop.predictor import Predictor

    response = httpx.get(_url(server, "astronaut.jpg", aspect="4:5", width=160, rank=2), timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as crop:
        assert crop.size == (160, 200)
    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True, max_pixels=MAX_PIXELS)
    expected = predictor.predict(str(layout["root"] / "astronaut.jpg"), size="160x200", k=2)[1]
    assert response.headers["x-promptcrop-box"] == ",".join(map(str, expected.box))
    assert response.headers["x-promptcrop-rank"] == "2"
    assert response.headers["x-promptcrop-mode"] == expected.mode
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')
    info = httpx.get(_url(server, "astronaut.jpg", info=True, aspect="4:5", width=160, rank=2), timeout=60)
    record = info.json()
    assert info.headers["content-type"] == "application/json"
    assert record["crops"][1]["box"] == list(expected.box) and record["mode"] == expected.mode
    assert info.headers["x-promptcrop-box"] == response.headers["x-promptcrop-box"]
    assert info.headers["etag"] != response.headers["etag"]


def test_options_reach_the_output(server):
    padded = httpx.get(_url(server, "astronaut.jpg", width=90, height=30, fit="pad", pad="00ff00",
                            format="png", mode="offline"), timeout=60)
    assert padded.status_code == 200 and padded.headers["content-type"] == "image/png"
    assert padded.headers["x-promptcrop-mode"] == "offline"
    with Image.open(io.BytesIO(padded.content)) as image:
        assert image.size == (90, 30)
    scaled = httpx.get(_url(server, "astronaut.jpg", height=64, mode="offline", format="webp", quality=40), timeout=60)
    with Image.open(io.BytesIO(scaled.content)) as image:
        assert image.format == "WEBP" and image.height == 64
    box = [int(v) for v in scaled.headers["x-promptcrop-box"].split(",")]
    assert abs(image.width - round(64 * (box[2] - box[0]) / (box[3] - box[1]))) <= 1


def test_fmt_auto_follows_accept_and_says_vary(server):
    url = _url(server, "astronaut.jpg", width=64, aspect="1:1", format="auto", mode="offline")
    webp = httpx.get(url, headers={"Accept": "image/avif,image/webp,*/*"}, timeout=60)
    plain = httpx.get(url, headers={"Accept": "*/*"}, timeout=60)
    assert webp.headers["content-type"] == "image/webp" and plain.headers["content-type"] == "image/jpeg"
    assert webp.headers["vary"] == plain.headers["vary"] == "Accept"
    assert webp.headers["etag"] != plain.headers["etag"]
    fixed = httpx.get(_url(server, "astronaut.jpg", width=64, aspect="1:1", mode="offline"), timeout=60)
    assert "vary" not in fixed.headers


# ------------------------------------------------------------------ signatures


def test_signatures_good_rotated_bad_and_unsigned(server):
    assert httpx.get(_url(server, "astronaut.jpg", width=50, mode="offline"), timeout=60).status_code == 200
    rotated = httpx.get(_url(server, "astronaut.jpg", key=(K2, S2), width=50, mode="offline"), timeout=60)
    assert rotated.status_code == 200
    good = _url(server, "astronaut.jpg", width=50, mode="offline")
    for refused in (
        good.replace("w:50", "w:51"),  # the path changed after signing
        _url(server, "astronaut.jpg", key=("cd" * 16, S1), width=50),  # a key the server does not have
        _url(server, "astronaut.jpg", key=(K1, "00"), width=50),  # the right key with the wrong salt
        server.url + sign_url("astronaut.jpg", key=None, width=50),  # unsafe: no --allow-unsigned
        server.url + "/v1/img/w:50/astronaut.jpg",  # no signature at all
        server.url + "/v1/img/",
    ):
        response = httpx.get(refused, timeout=30)
        assert response.status_code == 403, refused
        assert response.json()["error"]["code"] == "forbidden"
        assert response.headers["cache-control"] == "no-store"


def test_a_bad_signature_is_refused_before_the_source_is_looked_at(server):
    before = _renders(server)
    status, body = _raw_get(server, "/v1/img/" + "A" * 43 + "/w:10/missing-file.jpg")
    assert status == 403 and b"forbidden" in body  # not 404: the path was never resolved
    assert _renders(server) == before


@pytest.mark.parametrize(("path", "named"), [
    ("/zz:1/astronaut.jpg", "'zz'"), ("/w:10/w:20/astronaut.jpg", "'w' given twice"),
    ("/k:0/astronaut.jpg", "k:"), ("/fit:pad:red/astronaut.jpg", "fit:"),
    ("/ar:1:1/w:10/h:10/astronaut.jpg", "ar:"), ("/w:10", "no image"),
    ("/mode:offline/q:a%20cat/astronaut.jpg", "mode:offline"),
])
def test_grammar_errors_are_400_naming_the_option(server, path, named):
    status, body = _raw_get(server, _signed_raw(path))
    error = json.loads(body)["error"]
    assert status == 400 and error["code"] == "bad_request" and named in error["message"]


# ------------------------------------------------------------------ path escapes

ESCAPES = [
    "/../outside/secret.jpg",
    "/%2e%2e/outside/secret.jpg",
    "/%2E%2E/outside/secret.jpg",
    "/.%2e/outside/secret.jpg",
    "/%2e./outside/secret.jpg",
    "/..%2foutside%2fsecret.jpg",
    "/..%2Foutside%2Fsecret.jpg",
    "/..%5coutside%5csecret.jpg",
    "/%252e%252e/outside/secret.jpg",
    "/%252e%252e%252foutside%252fsecret.jpg",
    "/sub/../../outside/secret.jpg",
    "/sub/%2e%2e/%2e%2e/outside/secret.jpg",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/-/..%2f..%2foutside/secret.jpg",
    "/abs_out.jpg",
    "/rel_out.jpg",
    "/dir_out/secret.jpg",
    "/astronaut.jpg%00.png",
    "/%c0%ae%c0%ae/outside/secret.jpg",
    "/~/secret.jpg",
    "/src:photos/%2e%2e/outside/secret.jpg",
    "/src:store/../outside/secret.jpg",
    "/src:..%2foutside/secret.jpg",
    "/file:%2F%2F%2Fetc%2Fpasswd",
    "/http:%2F%2F127.0.0.1%2Fx.jpg",
    "/C:%5cWindows%5cwin.ini",
]


@pytest.mark.parametrize("tail", ESCAPES)
def test_path_escapes_are_refused(server, layout, tail):
    status, body = _raw_get(server, _signed_raw(tail))
    assert status in (400, 404), (tail, status, body[:200])
    assert SECRET not in body and str(layout["base"]).encode() not in body


def test_no_escape_touched_the_file_system_outside_the_root(server, layout):
    for tail in ESCAPES:
        _raw_get(server, _signed_raw(tail))
    assert layout["audit"].read_text() == ""
    assert len(ESCAPES) >= 15


def test_a_symlink_inside_the_root_is_followed(server):
    assert httpx.get(_url(server, "in_link.jpg", width=40, mode="offline"), timeout=60).status_code == 200


# ------------------------------------------------------------------ caching


def test_repeats_are_cache_hits_304s_and_heads_without_rendering(server):
    url = _url(server, "astronaut.jpg", aspect="16:9", width=120, mode="offline")
    first = httpx.get(url, timeout=60)
    renders = _renders(server)
    again = httpx.get(url, timeout=60)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    not_modified = httpx.get(url, headers={"If-None-Match": first.headers["etag"]}, timeout=60)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == first.headers["etag"]
    assert not_modified.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    listed = httpx.get(url, headers={"If-None-Match": f'"x", W/{first.headers["etag"]}'}, timeout=60)
    assert listed.status_code == 304
    head = httpx.head(url, timeout=60)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(first.content)
    assert head.headers["x-promptcrop-box"] == first.headers["x-promptcrop-box"]
    assert _renders(server) == renders
    stale = httpx.get(url, headers={"If-None-Match": '"something-else"'}, timeout=60)
    assert stale.status_code == 200 and _renders(server) == renders


def test_a_304_needs_no_cache_entry_and_never_renders(server, layout):
    url = _url(server, "sub/astronaut.jpg", aspect="1:1", width=70, mode="offline")
    etag = httpx.get(url, timeout=60).headers["etag"]
    for entry in layout["cache"].rglob("*.entry"):
        entry.unlink()
    renders = _renders(server)
    response = httpx.get(url, headers={"If-None-Match": etag}, timeout=60)
    assert response.status_code == 304 and _renders(server) == renders
    # without the entry the server cannot know whether the crop fell back: the short max-age
    assert response.headers["cache-control"] == f"public, max-age={FALLBACK_MAX_AGE}"


def test_a_changed_source_file_changes_the_etag(server, layout):
    path = layout["root"] / "changing.jpg"
    path.write_bytes(astronaut_jpeg())
    url = _url(server, "changing.jpg", width=40, mode="offline")
    before = httpx.get(url, timeout=60).headers["etag"]
    with Image.open(layout["root"] / "astronaut.jpg") as image:
        path.write_bytes(encode(image.rotate(90), "JPEG"))
    response = httpx.get(url, headers={"If-None-Match": before}, timeout=60)
    assert response.status_code == 200 and response.headers["etag"] != before


def test_the_cache_stays_within_its_bound(server, layout):
    limit = int(CACHE_MB * 2**20)
    for width in range(150, 350, 10):
        response = httpx.get(_url(server, "astronaut.jpg", aspect="1:1", width=width, format="png",
                                  mode="offline"), timeout=60)
        assert response.status_code == 200
        on_disk = sum(p.stat().st_size for p in layout["cache"].rglob("*.entry"))
        assert on_disk <= limit
    rendered = 2 * 20 * 30_000  # 20 PNG crops of 150-340 px and their records: well above the bound
    assert rendered > limit


def test_a_fallback_answer_gets_the_short_max_age(server, tiny_owlvit_dir):
    from promptcrop.predictor import Predictor

    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    photo = astronaut_jpeg()
    queries = ["a red car", "the astronaut", "a flag", "a dog on the moon", "zzz", "the helmet"]
    fell_back = {q: predictor.predict(photo, query=q, aspect="1:1", k=1).fallback is not None for q in queries}
    assert any(fell_back.values()) and not all(fell_back.values()), fell_back  # both kinds exist on this model
    for query, fallback in fell_back.items():
        response = httpx.get(_url(server, "astronaut.jpg", query=query, aspect="1:1", width=64), timeout=60)
        assert response.status_code == 200
        expected = FALLBACK_MAX_AGE if fallback else MAX_AGE
        assert response.headers["cache-control"] == f"public, max-age={expected}", query
        assert ("x-promptcrop-fallback" in response.headers) == fallback
        hit = httpx.get(_url(server, "astronaut.jpg", query=query, aspect="1:1", width=64), timeout=60)
        assert hit.headers["cache-control"] == response.headers["cache-control"]


# ------------------------------------------------------------------ sources and limits


def test_a_file_uri_source_through_pyarrow_gives_the_same_crop(server):
    options = {"aspect": "1:1", "width": 80, "mode": "offline"}
    local = httpx.get(_url(server, "astronaut.jpg", **options), timeout=60)
    store = httpx.get(_url(server, "astronaut.jpg", source="store", **options), timeout=60)
    assert store.status_code == 200 and store.content == local.content
    assert store.headers["etag"] != local.headers["etag"]  # another object, another identity
    missing = httpx.get(_url(server, "nope.jpg", source="store", **options), timeout=60)
    assert missing.status_code == 404


@pytest.mark.parametrize(("path", "options", "status", "code"), [
    ("nope.jpg", {}, 404, "not_found"),
    ("sub", {}, 404, "not_found"),
    ("astronaut.jpg", {"source": "elsewhere"}, 404, "not_found"),
    ("astronaut.jpg", {"source": "flaky"}, 502, "source_unavailable"),
    ("huge.png", {}, 413, "image_too_large"),
    ("heavy.jpg", {}, 413, "image_too_large"),
    ("notes.jpg", {}, 415, "not_an_image"),
    ("astronaut.jpg", {"width": 3000, "height": 3000}, 422, "bad_request"),
])
def test_source_and_limit_errors(server, layout, path, options, status, code):
    response = httpx.get(_url(server, path, mode=options.pop("mode", "offline"), **options), timeout=60)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and response.headers["cache-control"] == "no-store"
    assert str(layout["base"]) not in error["message"] and "/srv" not in error["message"]


@pytest.mark.slow
def test_two_server_processes_share_the_cache(server, layout, tiny_owlvit_dir):
    url_path = sign_url("astronaut.jpg", key=K1, salt=S1, aspect="9:16", width=90, mode="offline")
    first = httpx.get(server.url + url_path, timeout=60)
    second_server = _start(layout, tiny_owlvit_dir, "second")
    try:
        hit = httpx.get(second_server.url + url_path, timeout=60)
        assert hit.content == first.content and hit.headers["etag"] == first.headers["etag"]
        assert _renders(second_server) == 0
    finally:
        second_server.stop(signal.SIGKILL)
    assert os.path.exists(layout["cache"] / ".size")


def test_a_store_failure_is_logged_with_its_details_and_answered_without_them(server):
    response = httpx.get(_url(server, "astronaut.jpg", source="flaky", width=20, mode="offline"), timeout=60)
    assert response.status_code == 502 and "/srv" not in response.text
    request_id = response.json()["error"]["request_id"]
    assert server.log_line(request_id, "/srv/very/secret/disk/")
