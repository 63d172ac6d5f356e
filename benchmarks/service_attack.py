"""Attacks on ``promptcrop serve`` while a well-behaved client keeps asking for crops.

Starts the server (uvicorn, weight-free offline mode, an API key, short header/body timeouts so
the run stays short) on a free loopback port, measures the good client alone (its p99 latency),
then runs every attack of :data:`ATTACKS` one after the other with the good client running
throughout. An attack is *handled* when each of its requests got an expected answer (a status of
its ``expect`` set, or a closed connection where the protocol allows no answer) within its time
bound and the good client got only ``200`` meanwhile. Everything is sent to 127.0.0.1; every loop
is bounded in count and time.

Prints one line per attack, the server's idle and peak RSS, whether its log holds a traceback,
and last ``RESULT attacks=N handled=N peak_rss_mb=.. good_p99_ms=.. good_p99_ratio=..``
(good client p99 under attack / alone, same run). Targets: handled == attacks, good_p99_ratio <= 3,
peak RSS below the ceiling printed (1.5 x idle RSS + one maximal request's working set, the
latter measured on the server from one such request sent alone before the attacks).

``--scale heavy`` runs the issue's full sizes (1,000 stalled uploads, 20 MB bodies, headers at a
byte a second...); the default ``light`` scale runs the same attacks smaller (the test suite's).
"""

from __future__ import annotations

import argparse
import functools
import io
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import service_load  # noqa: E402 - the sibling benchmark's server start and port helpers

KEY = "attack-suite-key"
#: Server options of the run: short timeouts so that stalled clients are cut off within seconds.
SERVER_OPTIONS = {
    "--threads": "2", "--max-queue": "8", "--max-pixels": "16000000", "--max-upload-mb": "20",
    "--timeout-s": "1", "--header-timeout-s": "2", "--body-timeout-s": "2", "--keep-alive-s": "2",
    "--max-connections": "64", "--api-key": KEY,
}
HEADER_TIMEOUT_S = float(SERVER_OPTIONS["--header-timeout-s"])
BODY_TIMEOUT_S = float(SERVER_OPTIONS["--body-timeout-s"])
REQUEST_TIMEOUT_S = float(SERVER_OPTIONS["--timeout-s"])
#: Slack on every time bound: scheduling on a busy 2-core machine.
SLACK_S = 3.0
DROPPED = 0  # "status" of a connection the server closed without an answer
BOUNDARY = "attackboundary"


# --------------------------------------------------------------------------- images


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def good_photo() -> bytes:
    """The good client's photo: scikit-image's astronaut (512 x 512) as JPEG."""
    from skimage import data

    return encode(Image.fromarray(data.astronaut()), "JPEG")


@functools.lru_cache(maxsize=1)
def heavy_photo(side: int = 4000) -> bytes:
    """``side`` x ``side`` noise as JPEG (10 MB at 4000, 16 megapixels: the run's pixel limit); see
    :func:`heavy_request` for what makes a request with it outlive a 1-second timeout."""
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)), "JPEG")


def png_bomb(side: int = 60_000) -> bytes:
    """A valid PNG header declaring ``side`` x ``side`` pixels with a few KB of compressed zeros."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # the first rows only: the header is what counts
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def jpeg_claiming(side: int = 60_000) -> bytes:
    """A small JPEG whose frame header claims ``side`` x ``side`` pixels."""
    data = bytearray(encode(Image.new("RGB", (16, 16), (200, 30, 30)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def tall_photo() -> bytes:
    """The astronaut four times over (512 x 2048): a 20:1 crop padded around its subject would be
    a canvas of tens of megapixels."""
    from skimage import data

    return encode(Image.fromarray(np.concatenate([data.astronaut()] * 4, axis=0)), "JPEG")


# --------------------------------------------------------------------------- raw HTTP


def multipart(fields: Iterable[tuple[bytes | str, bytes | str]], image: bytes | None = None,
              boundary: str = BOUNDARY, filename: str = "photo.jpg", ctype: str = "image/jpeg") -> bytes:
    """A multipart form body, built by hand (field names may be any bytes)."""
    parts = []
    for name, value in fields:
        name_b = name if isinstance(name, bytes) else name.encode()
        value_b = value if isinstance(value, bytes) else value.encode()
        parts.append(b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name_b
                     + b'"\r\n\r\n' + value_b + b"\r\n")
    if image is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + image + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def request_head(path: str, length: int | None, key: str | None = KEY, boundary: str | None = BOUNDARY,
                 method: str = "POST", extra: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if boundary is not None:
        lines.append(f"Content-Type: multipart/form-data; boundary={boundary}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if key is not None:
        lines.append(f"X-API-Key: {key}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_status(sock: socket.socket, timeout: float) -> int:
    """The status of the response on ``sock`` (``DROPPED`` when it closes without one)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else DROPPED


def answered_before_sending(sock: socket.socket, wait_s: float) -> bool:
    """Whether the server answered within ``wait_s`` while we sent nothing more."""
    readable, _, _ = select.select([sock], [], [], wait_s)
    return bool(readable)


def raw_exchange(port: int, head: bytes, body: bytes, *, timeout: float = 10.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_status(sock, timeout)


# --------------------------------------------------------------------------- the attacks


@dataclass
class Target:
    """The server under attack and the size of the attacks (``heavy``: the issue's sizes)."""

    port: int
    heavy: bool = False
    metrics: Callable[[], str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, route: str, data: dict | list, image: bytes, *, key: str | None = KEY,
             filename: str = "photo.jpg", ctype: str = "image/jpeg", timeout: float = 30.0) -> int:
        headers = {"X-API-Key": key} if key else {}
        try:
            return httpx.post(self.url + route, data=data, files={"image": (filename, image, ctype)},
                              headers=headers, timeout=timeout).status_code
        except httpx.HTTPError:
            return DROPPED


@dataclass
class Outcome:
    """What one attack got: the statuses of its requests and how long the slowest took."""

    statuses: list[int] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class Attack:
    """``run(target) -> Outcome``; handled when every status is in ``expect`` within ``max_s``."""

    name: str
    run: Callable[[Target], Outcome]
    expect: frozenset[int]
    max_s: float
    heavy_only: bool = False

    def handled(self, outcome: Outcome) -> bool:
        return bool(outcome.statuses) and set(outcome.statuses) <= self.expect and outcome.seconds <= self.max_s


def _timed(fn: Callable[[], list[int]]) -> Outcome:
    start = time.perf_counter()
    statuses = fn()
    return Outcome(statuses, time.perf_counter() - start)


def form_attack(route: str, cases: Callable[[Target], list[list[tuple[str, str]]]], image: Callable[[], bytes] = good_photo,
                **post: str) -> Callable[[Target], Outcome]:
    """Post each case's fields (a list of (name, value)) with the photo; the slowest counts."""
    def run(target: Target) -> Outcome:
        photo = image()
        outcome = Outcome()
        for fields in cases(target):
            data: dict[str, list[str]] = {}
            for name, value in fields:
                data.setdefault(name, []).append(value)
            one = _timed(lambda: [target.post(route, data, photo, **post)])
            outcome.statuses += one.statuses
            outcome.seconds = max(outcome.seconds, one.seconds)
        return outcome
    return run


def _fixed(*cases: list[tuple[str, str]]) -> Callable[[Target], list[list[tuple[str, str]]]]:
    return lambda _target: list(cases)


def raw_form_attack(bodies: Callable[[Target], list[tuple[bytes, bytes]]]) -> Callable[[Target], Outcome]:
    """Send each hand-made ``(head, body)`` on its own connection."""
    def run(target: Target) -> Outcome:
        outcome = Outcome()
        for head, body in bodies(target):
            one = _timed(lambda: [raw_exchange(target.port, head, body)])
            outcome.statuses += one.statuses
            outcome.seconds = max(outcome.seconds, one.seconds)
        return outcome
    return run


def refused_before_body(target: Target, key: str | None, size: int, chunk_s: float) -> Outcome:
    """Headers announcing ``size`` bytes, then wait: the answer must come before any body byte.
    Then send the body anyway (slowly when ``chunk_s``) the way a client that does not listen
    would: the server must not read it (the connection ends)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        sock.sendall(request_head("/v1/crops", size, key=key))
        early = answered_before_sending(sock, 2.0)
        sent = 0
        block = b"x" * 65536
        try:
            while sent < size and time.perf_counter() - start < 10:
                sock.sendall(block)
                sent += len(block)
                if chunk_s:
                    time.sleep(chunk_s)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, socket.timeout):
            pass
        status = read_status(sock, 5.0)
    note = f"answered before the body: {early}; body bytes sent before the server closed: {sent:,}"
    return Outcome([status if early else -1], time.perf_counter() - start, note)


def stalled_uploads(target: Target) -> Outcome:
    """Many connections send headers and a few body bytes, then nothing. Each must end (408,
    503 beyond the connection cap, or a close) within the body timeout."""
    count = 1000 if target.heavy else 100
    head = request_head("/v1/crops", 200_000) + b"--" + BOUNDARY.encode() + b"\r\n"
    start = time.perf_counter()
    socks = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", target.port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
        except OSError:
            break
    statuses: list[int] = []
    deadline = start + BODY_TIMEOUT_S + 2 * SLACK_S
    for sock in socks:
        statuses.append(read_status(sock, max(0.1, deadline - time.perf_counter())))
        sock.close()
    closed_in = time.perf_counter() - start
    return Outcome(statuses if len(socks) == count else statuses + [-1], closed_in,
                   f"{len(socks)} connections opened")


def slow_headers(target: Target) -> Outcome:
    """Request headers one byte at a time (a byte a second in heavy scale): 408 at the header timeout."""
    pause = 1.0 if target.heavy else 0.25
    head = request_head("/v1/crops", 1000)
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                if answered_before_sending(sock, pause):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        status = read_status(sock, 5.0)
    return Outcome([status], time.perf_counter() - start)


def body_ends_early(target: Target) -> Outcome:
    """Announce 100 KB, send 1 KB and vanish; then nothing may be left in flight."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        sock.sendall(request_head("/v1/crops", 100_000) + multipart([("k", "2")])[:1000])
    settled = DROPPED
    while time.perf_counter() - start < BODY_TIMEOUT_S + SLACK_S:
        text = target.metrics() if target.metrics else ""
        in_flight = re.search(r"^promptcrop_http_requests_in_flight (\S+)", text, re.M)
        if in_flight and float(in_flight.group(1)) <= 1.0:  # only the metrics request itself
            settled = 200
            break
        time.sleep(0.1)
    return Outcome([settled], time.perf_counter() - start, "200 = nothing left in flight")


def past_the_timeout(target: Target) -> Outcome:
    """Requests that need longer than the server's timeout: each gets 504 and its model call
    stops (the worker is free again within one stage)."""
    statuses = []
    slowest = 0.0
    for _ in range(10 if target.heavy else 3):
        one = _timed(lambda: [heavy_request(target)])
        statuses += one.statuses
        slowest = max(slowest, one.seconds)
        if not _workers_idle(target, REQUEST_TIMEOUT_S + SLACK_S):
            statuses.append(-1)  # the worker was not freed: never an expected status
    cancelled = re.search(r"^promptcrop_model_calls_cancelled_total (\S+)", target.metrics() if target.metrics else "", re.M)
    return Outcome(statuses, slowest, "each 504 followed by its worker freed; calls stopped at their deadline so "
                                      f"far: {cancelled.group(1) if cancelled else '?'}")


def newlines_in_fields(target: Target) -> Outcome:
    """CR/LF inside form fields: refused or parsed as whitespace, never echoed into a header."""
    photo = good_photo()
    statuses = []
    start = time.perf_counter()
    for data in ({"aspect": "16:9\r\nX-Evil: 1"}, {"aspect": "16:9\n"}, {"focus": "1,2,\n300,400"},
                 {"format": "png\r\nX-Evil: 1"}):
        try:
            response = httpx.post(target.url + "/v1/crop", data=data, files={"image": ("a.jpg", photo, "image/jpeg")},
                                  headers={"X-API-Key": KEY}, timeout=30)
        except httpx.HTTPError:
            statuses.append(DROPPED)
            continue
        injected = any("evil" in name.lower() or "\n" in value for name, value in response.headers.items())
        statuses.append(-1 if injected else response.status_code)
    return Outcome(statuses, time.perf_counter() - start)


def _workers_idle(target: Target, within_s: float) -> bool:
    deadline = time.perf_counter() + within_s
    while time.perf_counter() < deadline:
        text = target.metrics() if target.metrics else ""
        if re.search(r"^promptcrop_model_calls_running 0(\.0)?$", text, re.M):
            return True
        time.sleep(0.05)
    return False


def odd_methods(target: Target) -> Outcome:
    """Made-up methods: 405 each, and the metrics' method label stays bounded."""
    def run() -> list[int]:
        with httpx.Client(base_url=target.url, timeout=10) as client:
            statuses = [client.request(f"X{i}ATTACK", "/v1/crops").status_code for i in range(50)]
        labels = set(re.findall(r'method="([^"]*)"', target.metrics() if target.metrics else ""))
        return statuses + ([405] if len(labels) <= 8 else [-1])
    return _timed(run)


def _many(name: str, count: int, value: Callable[[int], str]) -> list[tuple[str, str]]:
    return [(name, value(i)) for i in range(count)]


ATTACKS: tuple[Attack, ...] = (
    Attack("ratio 1:3000 padded, png", form_attack("/v1/crop", _fixed(
        [("aspect", "1:3000"), ("fit", "pad"), ("format", "png")])), frozenset({422}), 2.0),
    Attack("ratio 1:1000000 padded", form_attack("/v1/crop", _fixed(
        [("aspect", "1:1000000"), ("fit", "pad")])), frozenset({422}), 2.0),
    Attack("malformed ratios", form_attack("/v1/crops", _fixed(
        *[[("aspect", a)] for a in ("0:1", "-1:2", "nan", "inf", "1e309:1", "16:0", ":", "1:1:1", "")]
    )), frozenset({422, 200}), 2.0),
    Attack("huge and bad sizes", form_attack("/v1/crop", _fixed(
        [("size", "100000x100000")], [("size", "0x5")], [("size", "99999999999999999999x1")],
        [("size", "20000x1"), ("fit", "pad")])), frozenset({422}), 2.0),
    Attack("20:1 padded canvas around a tall photo", form_attack("/v1/crop", _fixed(
        [("aspect", "20:1"), ("fit", "pad")]), image=tall_photo), frozenset({422}), 3.0),
    Attack("k = 10^6", form_attack("/v1/crops", _fixed([("k", "1000000")])), frozenset({422}), 2.0),
    Attack("1,000 ratio fields", form_attack("/v1/crops", lambda t: [_many("aspect", 1000, lambda i: f"{i + 1}:7")]),
           frozenset({400, 422}), 3.0),
    Attack("10^4 exclude phrases", form_attack("/v1/crops", lambda t: [_many("exclude", 10_000, lambda i: f"thing {i}")]),
           frozenset({400, 422}), 5.0),
    Attack("1 MB query", form_attack("/v1/crops", _fixed([("query", "a" * 1_000_000)])), frozenset({400, 413, 422}), 5.0),
    Attack("no key + 20 MB body", lambda t: refused_before_body(t, None, 20_000_000, 0.0), frozenset({401}), 15.0),
    Attack("wrong key + slow body", lambda t: refused_before_body(t, "wrong", 2_000_000, 0.2), frozenset({401}), 15.0),
    Attack("stalled uploads", stalled_uploads, frozenset({408, 503, DROPPED}), BODY_TIMEOUT_S + 2 * SLACK_S + 5),
    Attack("headers a byte at a time", slow_headers, frozenset({408}), HEADER_TIMEOUT_S + SLACK_S),
    Attack("body ends early", body_ends_early, frozenset({200}), BODY_TIMEOUT_S + SLACK_S),
    Attack("bad multipart boundaries", raw_form_attack(lambda t: [
        (request_head("/v1/crops", len(body := multipart([("k", "2")], good_photo(), boundary="other"))), body),
        (request_head("/v1/crops", len(body := multipart([("k", "2")], good_photo())), boundary=None,
                      extra="Content-Type: multipart/form-data\r\n"), body),
        (request_head("/v1/crops", len(body := b"--" + b"b" * 5000 + b"\r\n"), boundary="b" * 5000), body),
    ]), frozenset({400, 422}), 3.0),
    Attack("Unicode digits in fields", form_attack("/v1/crops", _fixed(
        [("aspect", "\u0661\u0666:\u0669")], [("k", "\uff11\uff10")], [("size", "\u0661\u0660\u0660x100")],
        [("focus", "\u0661,2,30,40")])), frozenset({422}), 3.0),
    Attack("newlines in fields", newlines_in_fields, frozenset({200, 422}), 3.0),
    Attack("non-UTF-8 field names", raw_form_attack(lambda t: [
        (request_head("/v1/crops", len(body := multipart([(b"\xff\xfe\xfd", b"1"), (b"k\x80", b"\xff")], good_photo()))),
         body)]), frozenset({200, 400, 422}), 3.0),
    Attack("PNG bomb (60,000^2 declared)", form_attack("/v1/crops", _fixed([("k", "1")]), image=png_bomb,
                                                       filename="bomb.png", ctype="image/png"),
           frozenset({413}), 3.0),
    Attack("JPEG bomb inside a .png upload", form_attack("/v1/crops", _fixed([("k", "1")]), image=jpeg_claiming,
                                                         filename="bomb.png", ctype="image/png"),
           frozenset({413}), 3.0),
    Attack("requests past the timeout", past_the_timeout, frozenset({504}), REQUEST_TIMEOUT_S + SLACK_S),
    Attack("made-up methods", odd_methods, frozenset({405}), 10.0),
)


# --------------------------------------------------------------------------- the good client


class GoodClient:
    """Posts the good photo back to back (a short pause between requests) on its own thread."""

    def __init__(self, url: str, pause_s: float = 0.05) -> None:
        self.url = url
        self.pause_s = pause_s
        self.photo = good_photo()
        self.latencies: list[float] = []
        self.failures: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> GoodClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers={"X-API-Key": KEY}) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    status = client.post("/v1/crops", files={"image": ("a.jpg", self.photo, "image/jpeg")},
                                         data={"aspect": ["1:1", "16:9"], "k": "2"}).status_code
                except httpx.HTTPError:
                    status = DROPPED
                if status == 200:
                    self.latencies.append(time.perf_counter() - start)
                else:
                    self.failures.append(status)
                self._stop.wait(self.pause_s)

    def take(self) -> tuple[list[float], list[int]]:
        """Latencies and failures so far, and start afresh."""
        latencies, failures = self.latencies, self.failures
        self.latencies, self.failures = [], []
        return latencies, failures


def p99_ms(latencies: list[float]) -> float:
    ordered = sorted(latencies) or [float("nan")]
    return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


# --------------------------------------------------------------------------- the server


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """The resident memory (``VmRSS``) or its peak (``VmHWM``) of process ``pid``, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_options() -> list[str]:
    return [item for pair in SERVER_OPTIONS.items() for item in pair]


def metrics_reader(url: str) -> Callable[[], str]:
    def read() -> str:
        try:
            return httpx.get(url + "/metrics", headers={"X-API-Key": KEY}, timeout=5).text
        except httpx.HTTPError:
            return ""
    return read


def heavy_request(target: Target) -> int:
    """One maximal legitimate request: the 16-megapixel photo (the run's pixel limit) cropped to
    its own size and written as PNG, past the 1-second timeout on this machine (504). As JPEG the
    whole request now takes under a second (the offline mode analyses a reduced preview, and
    JPEG's encoder writes 16 megapixels in about 0.07 s); PNG's encoder takes about 1.5 s on
    16 megapixels of noise."""
    return target.post("/v1/crop", {"format": "png", "k": "1"}, heavy_photo(), filename="noise.jpg")


def working_set_mb(target: Target, pid: int) -> float:
    """Peak RSS growth of the server from one :func:`heavy_request`, sent alone."""
    before = rss_mb(pid, "VmHWM")
    heavy_request(target)
    _workers_idle(target, 30)
    return max(0.0, rss_mb(pid, "VmHWM") - before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("light", "heavy"), default="light",
                        help="light: the test suite's sizes; heavy: the issue's (default light)")
    parser.add_argument("--alone-s", type=float, default=10.0, help="good client alone before the attacks (default 10)")
    args = parser.parse_args(argv)
    port = service_load.free_port()
    log_path = Path(tempfile.mkdtemp(prefix="promptcrop-attack-")) / "server.log"
    with open(log_path, "wb") as log:
        server = service_load.start_server(port, server_options(), log)
    target = Target(port, heavy=args.scale == "heavy", metrics=metrics_reader(f"http://127.0.0.1:{port}"))
    handled = 0
    try:
        with GoodClient(target.url) as good:
            time.sleep(args.alone_s)
            alone, alone_failures = good.take()
            idle = rss_mb(server.pid)
            print(f"server: promptcrop serve --offline {' '.join(server_options())}")
            print(f"good client alone: n={len(alone)} p99={p99_ms(alone):.0f} ms failures={alone_failures} "
                  f"server rss={idle:.0f} MB", flush=True)
        working = working_set_mb(target, server.pid)
        ceiling = 1.5 * idle + working
        print(f"one maximal request's working set: {working:.0f} MB -> rss ceiling {ceiling:.0f} MB", flush=True)
        under_attack: list[float] = []
        with GoodClient(target.url) as good:
            for attack in ATTACKS:
                outcome = attack.run(target)
                latencies, failures = good.take()
                under_attack += latencies
                ok = attack.handled(outcome) and not failures
                handled += ok
                print(f"{'ok  ' if ok else 'FAIL'} {attack.name}: statuses {sorted(set(outcome.statuses))} "
                      f"in {outcome.seconds:.2f} s (bound {attack.max_s:g} s); good client n={len(latencies)} "
                      f"failures={failures}; server peak rss {rss_mb(server.pid, 'VmHWM'):.0f} MB {outcome.note}",
                      flush=True)
            under_attack += good.take()[0]
    finally:
        peak = rss_mb(server.pid, "VmHWM")
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            print("the server did not stop within 60 s of SIGTERM")
    log = log_path.read_text(errors="replace")
    print(f"server peak rss {peak:.0f} MB (ceiling {ceiling:.0f} MB); traceback in log: {'Traceback' in log}")
    ratio = p99_ms(under_attack) / p99_ms(alone)
    print(f"RESULT attacks={len(ATTACKS)} handled={handled} peak_rss_mb={peak:.0f} "
          f"good_p99_ms={p99_ms(under_attack):.0f} good_p99_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
