"""An S3 source against a real local S3 implementation: moto's server (``moto[s3]`` with Flask,
in the ``dev`` extra) on a free loopback port, reached by ``promptcrop serve`` through pyarrow's
S3 filesystem (``s3://bucket/prefix?endpoint_override=…``) — the code path a real bucket takes.

Without moto these tests skip with one reason line; with ``CI=true`` a missing moto fails.
"""

from __future__ import annotations

import io
import signal

import httpx
import pytest
from PIL import Image

from optional import require
from promptcrop.serve.url.signing import SigningKey, sign_url
from serve_helpers import astronaut_jpeg, encode, free_port, raw_get, start_server

KEY, SALT = "5e" * 16, "a5"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3():
    boto3 = require("boto3")
    ThreadedMotoServer = require("moto.server").ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="shop")
    client.put_object(Bucket="shop", Key="photos/products/astronaut.jpg", Body=astronaut_jpeg())
    client.put_object(Bucket="shop", Key="outside.jpg", Body=b"NOT IN THE PREFIX")
    yield client, port
    server.stop()


@pytest.fixture(scope="module")
def server(s3, tmp_path_factory):
    _client, port = s3
    folder = tmp_path_factory.mktemp("folder")
    (folder / "products").mkdir()
    (folder / "products" / "astronaut.jpg").write_bytes(astronaut_jpeg())
    uri = f"s3://shop/photos?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    process = start_server(
        tmp_path_factory.mktemp("logs"), "--offline", "--source", f"shop={uri}", "--source", f"folder={folder}",
        "--url-key", KEY, "--url-salt", SALT, "--cache-dir", str(tmp_path_factory.mktemp("cache")),
        env=AWS_ENV,
    )
    yield process
    process.stop(signal.SIGKILL)


def _get(server, path, **options) -> httpx.Response:
    return httpx.get(server.url + sign_url(path, key=KEY, salt=SALT, **options), timeout=60)


def test_an_s3_object_is_cropped_like_the_same_file_in_a_folder(server):
    options = {"aspect": "4:5", "width": 100}
    from_s3 = _get(server, "products/astronaut.jpg", source="shop", **options)
    from_folder = _get(server, "products/astronaut.jpg", source="folder", **options)
    assert from_s3.status_code == 200, from_s3.text
    assert from_s3.content == from_folder.content
    with Image.open(io.BytesIO(from_s3.content)) as crop:
        assert crop.size == (100, 125)


def test_a_replaced_object_gets_a_new_etag_and_an_old_one_a_304(server, s3):
    client, _port = s3
    client.put_object(Bucket="shop", Key="photos/changing.jpg", Body=astronaut_jpeg())
    first = _get(server, "changing.jpg", source="shop", width=40)
    again = httpx.get(server.url + sign_url("changing.jpg", key=KEY, salt=SALT, source="shop", width=40),
                      headers={"If-None-Match": first.headers["etag"]}, timeout=60)
    assert again.status_code == 304
    with Image.open(io.BytesIO(astronaut_jpeg())) as image:
        client.put_object(Bucket="shop", Key="photos/changing.jpg", Body=encode(image.resize((300, 200)), "JPEG"))
    changed = httpx.get(server.url + sign_url("changing.jpg", key=KEY, salt=SALT, source="shop", width=40),
                        headers={"If-None-Match": first.headers["etag"]}, timeout=60)
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize("path", ["missing.jpg", "products", "../outside.jpg", "%2e%2e/outside.jpg"])
def test_missing_keys_and_prefix_escapes_are_refused(server, path):
    tail = f"/src:shop/w:10/{path}"
    status, body = raw_get(server.port, f"/v1/img/{SigningKey.from_hex(KEY, SALT).sign(tail)}{tail}")
    assert status in (400, 404) and b"NOT IN THE PREFIX" not in body
    assert b"shop/photos" not in body and b"127.0.0.1" not in body
