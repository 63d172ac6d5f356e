"""A real server: ``promptcrop serve`` (uvicorn) in a subprocess on a free loopback port, in the
weight-free offline mode — concurrency, queue overflow, a client vanishing mid-upload, SIGTERM
draining in-flight requests, SIGKILL and a restart on the same port."""

from __future__ import annotations

import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from serve_helpers import ServerProcess, astronaut_jpeg, encode, metric, start_server


def _large_photo() -> bytes:
    """A 24-megapixel JPEG that compresses well: a few hundred ms of decoding and cropping."""
    h, w = 4000, 6000
    y, x = np.mgrid[0:h, 0:w]
    pixels = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], -1).astype(np.uint8)
    pixels[h // 3 : h // 2, w // 2 : 2 * w // 3] = (250, 30, 30)
    return encode(Image.fromarray(pixels), "JPEG")


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {"small": astronaut_jpeg(), "large": _large_photo()}


@pytest.fixture(scope="module")
def roomy(tmp_path_factory) -> ServerProcess:
    """Two workers and a long queue."""
    server = start_server(tmp_path_factory.mktemp("roomy"), "--offline", "--threads", "2",
                          "--max-queue", "64", "--max-upload-mb", "2")
    yield server
    server.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def cramped(roomy, tmp_path_factory) -> ServerProcess:
    """The roomy server killed with SIGKILL, then restarted on the same port with one worker and
    one place in the queue (one start fewer than a separate server)."""
    roomy.process.send_signal(signal.SIGKILL)
    roomy.process.wait(timeout=10)
    server = start_server(tmp_path_factory.mktemp("cramped"), "--offline", "--threads", "1",
                          "--max-queue", "1", port=roomy.port)
    yield server
    server.stop(signal.SIGKILL)


def _crop(url: str, image: bytes, timeout: float = 60) -> httpx.Response:
    return httpx.post(url + "/v1/crops", files={"image": ("photo.jpg", image, "image/jpeg")},
                      data={"aspect": ["1:1", "16:9"], "k": "2"}, timeout=timeout)


def _timed_crop(url: str, image: bytes) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = _crop(url, image)
    return response, time.perf_counter() - start


def _metrics(server: ServerProcess) -> str:
    return httpx.get(server.url + "/metrics", timeout=10).text


def _wait_for(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_32_concurrent_clients_all_get_their_crops(roomy, photos):
    with ThreadPoolExecutor(32) as clients:
        responses = list(clients.map(lambda _: _crop(roomy.url, photos["small"]), range(32)))
    assert [r.status_code for r in responses] == [200] * 32
    boxes = {tuple(map(tuple, (c["box"] for c in r.json()["crops"]))) for r in responses}
    assert len(boxes) == 1  # the same photo, the same crops, whatever the interleaving


def test_declared_oversize_upload_is_refused_before_the_body_is_sent(roomy):
    with socket.create_connection(("127.0.0.1", roomy.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/crops HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; "
                     b"boundary=x\r\nContent-Length: 50000000\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 413") and "upload_too_large" in text


def test_a_client_gone_mid_upload_leaves_nothing_in_flight_or_queued(roomy, photos):
    body = photos["large"]
    with socket.create_connection(("127.0.0.1", roomy.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/crops HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; "
                     b"boundary=x\r\nContent-Length: " + str(len(body) + 200).encode() + b"\r\n\r\n"
                     b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
                     + body[:20000])
        # the half-sent request is in flight (plus the /metrics request asking)
        assert _wait_for(lambda: metric(_metrics(roomy), "promptcrop_http_requests_in_flight") >= 2)
    assert _wait_for(lambda: metric(_metrics(roomy), "promptcrop_http_requests_in_flight") == 1)
    text = _metrics(roomy)
    assert metric(text, "promptcrop_queue_depth") == 0 and metric(text, "promptcrop_model_calls_running") == 0
    assert _crop(roomy.url, photos["small"]).status_code == 200


def test_after_sigkill_a_restart_on_the_same_port_serves_again(roomy, cramped, photos):
    assert roomy.process.returncode == -signal.SIGKILL and cramped.port == roomy.port
    response = _crop(cramped.url, photos["small"])
    assert response.status_code == 200 and response.json()["mode"] == "offline"


def test_overflow_beyond_the_tiny_queue_gets_503_quickly(cramped, photos):
    with ThreadPoolExecutor(24) as clients:
        results = list(clients.map(lambda _: _timed_crop(cramped.url, photos["large"]), range(24)))
    statuses = [r.status_code for r, _ in results]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 2 and statuses.count(503) >= 1
    for response, seconds in results:
        if response.status_code == 503:
            assert response.json()["error"]["code"] == "overloaded"
            assert int(response.headers["retry-after"]) >= 1 and seconds < 5
    assert _wait_for(lambda: httpx.get(cramped.url + "/readyz").status_code == 200)


def test_sigterm_lets_in_flight_requests_finish_then_exits_0(cramped, photos):
    results: list[httpx.Response] = []
    clients = [threading.Thread(target=lambda: results.append(_crop(cramped.url, photos["large"])))
               for _ in range(2)]
    for client in clients:
        client.start()
    assert _wait_for(lambda: metric(_metrics(cramped), "promptcrop_http_requests_in_flight") >= 3)
    cramped.process.send_signal(signal.SIGTERM)
    for client in clients:
        client.join(60)
    assert [r.status_code for r in results] == [200, 200]
    assert cramped.process.wait(timeout=30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(cramped.url + "/healthz", timeout=2)


