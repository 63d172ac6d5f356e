"""Load on ``promptcrop serve`` against the same Predictor in process.

Starts the server (uvicorn, weight-free offline mode, default settings: one worker thread) on a
free loopback port; sends the scikit-image photos from 1, 4 and 16 concurrent clients for
``--seconds`` each (``POST /v1/crops``, ratios 1:1 and 16:9, k=3). In the same run it times
``Predictor.predict`` in this process on the same photos with the same options, for a quarter of
a level before the first level and after each one; the 4-client level is compared with the mean
of the in-process runs just before and just after it (the machine's load drifts). Per level it prints throughput, p50/p95/p99 latency, errors, deliberate-overload 503s and
the server's peak RSS.

Last line: ``RESULT throughput_ratio=<service at 4 clients / in-process> p99_ms=<at 16 clients>
errors=<n> peak_rss_mb=<mb>``. Targets: throughput_ratio >= 0.85, errors = 0.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]
OPTIONS = {"aspect": ["1:1", "16:9"], "k": "3"}
LEVELS = (1, 4, 16)


def photos() -> list[tuple[str, bytes]]:
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    return [(name, (folder / name).read_bytes()) for name in PHOTOS if (folder / name).exists()]


def in_process(predictor, items: list[tuple[str, bytes]], seconds: float) -> float:
    """Photos per second of ``predictor.predict`` run back to back on the same photos."""
    for _, data in items:  # warm-up
        predictor.predict(data, aspect=OPTIONS["aspect"], k=int(OPTIONS["k"]))
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, data = items[done % len(items)]
        predictor.predict(data, aspect=OPTIONS["aspect"], k=int(OPTIONS["k"]))
        done += 1
    return done / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, options: Sequence[str], log: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """``promptcrop serve --offline`` with ``options`` on ``port``, once it answers ``/readyz``
    (its output to ``log``, an open file or ``DEVNULL``)."""
    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "promptcrop.cli", "serve", "--offline", "--host", "127.0.0.1", "--port", str(port),
         *options],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, items: list[tuple[str, bytes]], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads posting photos back to back for ``seconds``."""
    latencies: list[float] = []
    errors = overloaded = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal errors, overloaded
        with httpx.Client(base_url=url, timeout=120) as http:
            i = offset
            while time.perf_counter() < deadline:
                name, data = items[i % len(items)]
                i += 1
                start = time.perf_counter()
                try:
                    status = http.post("/v1/crops", files={"image": (name, data)}, data=OPTIONS).status_code
                except httpx.HTTPError:
                    status = -1
                elapsed = time.perf_counter() - start
                with lock:
                    if status == 200:
                        latencies.append(elapsed)
                    elif status == 503:
                        overloaded += 1
                    else:
                        errors += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]

    def pct(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"throughput": len(latencies) / wall, "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "errors": errors, "overloaded": overloaded, "n": len(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency level (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="server worker threads (default 1)")
    args = parser.parse_args(argv)
    items = photos()
    print(f"{len(items)} photos, options {OPTIONS}, {args.seconds:g} s per level, server --threads {args.threads}")
    from promptcrop.options import PredictorOptions
    from promptcrop.predictor import Predictor

    predictor = Predictor.from_options(PredictorOptions(model=None, offline=True))
    # in-process runs of a quarter level's length before every level and after the last: the
    # 4-client level is compared with the mean of the runs just before and just after it
    slice_s = args.seconds / 4
    baselines = [in_process(predictor, items, slice_s)]
    print(f"in-process: {baselines[-1]:.2f} photos/s")
    port = free_port()
    server = start_server(port, ["--threads", str(args.threads)])
    results = {}
    try:
        for clients in LEVELS:
            r = load(f"http://127.0.0.1:{port}", items, clients, args.seconds)
            r["peak_rss_mb"] = peak_rss_mb(server.pid)
            results[clients] = r
            print(f"clients={clients:2d} throughput={r['throughput']:.2f}/s p50={r['p50_ms']:.0f} ms "
                  f"p95={r['p95_ms']:.0f} ms p99={r['p99_ms']:.0f} ms n={r['n']} errors={r['errors']} "
                  f"overload_503={r['overloaded']} server_peak_rss={r['peak_rss_mb']:.0f} MB", flush=True)
            baselines.append(in_process(predictor, items, slice_s))
            print(f"in-process: {baselines[-1]:.2f} photos/s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    at_4 = LEVELS.index(4)
    baseline = (baselines[at_4] + baselines[at_4 + 1]) / 2
    print(f"in-process around the 4-client level: {baseline:.2f} photos/s")
    errors = sum(int(r["errors"]) for r in results.values())
    peak = max(r["peak_rss_mb"] for r in results.values())
    print(f"RESULT throughput_ratio={results[4]['throughput'] / baseline:.3f} p99_ms={results[16]['p99_ms']:.0f} "
          f"errors={errors} peak_rss_mb={peak:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
