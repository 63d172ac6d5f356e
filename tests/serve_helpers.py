"""Helpers of the service tests: encoded test images and a real ``promptcrop serve`` process on a
free loopback port."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO_SRC = Path(__file__).resolve().parents[1] / "src"


def serve_settings(**kwargs: object):
    """:class:`ServeSettings` from flat keywords: those of :class:`PredictorOptions` (``offline``,
    ``model``, ``max_pixels``...) go to its ``predictor``."""
    from promptcrop.options import PredictorOptions
    from promptcrop.serve.settings import ServeSettings

    names = {f.name for f in fields(PredictorOptions)}
    predictor = PredictorOptions(**{k: v for k, v in kwargs.items() if k in names})  # type: ignore[arg-type]
    return ServeSettings(predictor=predictor, **{k: v for k, v in kwargs.items() if k not in names})  # type: ignore[arg-type]


def astronaut_jpeg() -> bytes:
    """scikit-image's astronaut photo (512 x 512) as JPEG bytes."""
    from skimage import data

    return encode(Image.fromarray(data.astronaut()), "JPEG")


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """A noisy RGB image: slow enough to crop that concurrent requests overlap."""
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)), "PNG")


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``target`` on ``127.0.0.1:port`` exactly as written (no client-side normalisation of
    dot segments or escapes, unlike httpx): ``(status, body)``."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(text: str, name: str) -> float:
    """The value of an unlabelled metric in a Prometheus text exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


@dataclass
class ServerProcess:
    """``python -m promptcrop.cli serve`` on ``127.0.0.1:port``."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_line(self, *parts: str, timeout: float = 10.0) -> str:
        """The first log line holding every one of ``parts``, waiting up to ``timeout`` s for it
        (the server may write a request's log line just after it has answered); "" if none."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log().splitlines():
                if all(part in line for part in parts):
                    return line
            if time.monotonic() > deadline:
                return ""
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_server(tmp_dir: Path, *args: str, port: int | None = None, timeout: float = 90,
                 entry: tuple[str, ...] = ("-m", "promptcrop.cli"), env: dict[str, str] | None = None,
                 python: str = sys.executable, own_sources: bool = True) -> ServerProcess:
    """Start a server and wait until ``/healthz`` answers (raises with the server's log if not).

    ``entry``: what ``python`` runs (``serve ...`` follows); ``env``: extra environment variables;
    ``own_sources``: this tree's sources first on its path (False: only what ``python``'s
    environment installed, e.g. a fresh venv)."""
    port = port or free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_SRC), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", **(env or {}))
    if not own_sources:
        env.pop("PYTHONPATH")
    env.pop("PROMPTCROP_API_KEY", None)
    log_path = tmp_dir / f"server-{port}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [python, *entry, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    server = ServerProcess(process, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not answer within {timeout} s:\n{server.log()}")
