"""promptcrop's crop URLs against thumbor's, both serving the same annotated photos from one folder.

    python benchmarks/url_server.py [--repeats 5] [--seconds 5] [--width 320]

The photos are the real-photo benchmark's development set (``benchmarks/real_photos.py``: the
package photos and their variants, annotations in ``benchmarks/real_photos_annotations.json``, and
the 31 shared development photos with ``benchmarks/dev_photos_annotations.json`` when
``shared/data/dev-photos`` is found — ``--dev-photos DIR`` elsewhere), put into one temporary
folder (outside the repository, removed afterwards) that both servers read; ``--package-only``
keeps the package photos and their variants alone.

- **promptcrop** — ``promptcrop serve --offline --source FOLDER --url-key .. --cache-dir ..``
  (the weight-free mode: saliency, faces, composer; one worker thread), signed URLs
  ``/v1/img/{sig}/ar:R/w:W/qual:80/{photo}``; the crop box from ``X-Promptcrop-Box``.
- **thumbor** — 7.x in its own virtual environment (``/work/peer-envs/thumbor``, built by this
  script when missing: ``pip install 'thumbor>=7,<8' 'opencv-python-headless<5'``, since thumbor's
  face detector needs OpenCV's ``CascadeClassifier``, which the OpenCV 5 wheels dropped), file
  loader on the same folder, face + feature detectors, file result storage (unsafe results
  stored), quality 80; ``/unsafe/{W}x{H}/smart/{photo}``; the crop box from the same URL's
  ``/unsafe/meta/...`` JSON.

Both get the same output size per ratio (1:1, 4:5, 9:16, 16:9 at width ``--width``).

Figures: **kept** / **faces cut** — the real-photo benchmark's definitions
(:func:`real_photos.score_photo`) on each method's crop boxes, over the whole set and per half
(:func:`real_photos.half_of`); **miss** — the first request of each
(photo, ratio) URL, median over URLs; **hit** — the same URLs again (promptcrop's result cache;
thumbor's result storage), ``--repeats`` times each, the servers alternating request by request,
median over URLs of the median per URL; **hit rps** — requests
per second of 8 concurrent keep-alive clients (``http.client`` threads) cycling over the cached
URLs, median of 3 rounds that alternate between the servers, ``--seconds`` in all per server;
**bytes out** — the summed body sizes of the first requests.

Last line: ``RESULT kept_promptcrop=.. kept_thumbor=.. hit_ms_promptcrop=.. hit_ms_thumbor=..
miss_ms_promptcrop=.. miss_ms_thumbor=.. hit_rps_ratio=..`` (promptcrop's hit rps over thumbor's,
measured in the same run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_photos  # noqa: E402 - the sibling benchmark's photos, ratios and metrics

REPO = Path(__file__).resolve().parents[1]
PEER_ENV = Path(os.environ.get("PROMPTCROP_PEER_ENVS", "/work/peer-envs")) / "thumbor"
PEER_PACKAGES = ("thumbor>=7,<8", "opencv-python-headless<5")
QUALITY = 80
CLIENTS = 8
RPS_ROUNDS = 3
KEY, SALT = "6b" * 32, "73616c74"
START_TIMEOUT_S = 120


# ---------------------------------------------------------------------------- servers


def ensure_thumbor() -> Path:
    """The thumbor executable of the peer environment, built first when missing."""
    executable = PEER_ENV / "bin" / "thumbor"
    if executable.exists():
        return executable
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
    print(f"building the thumbor environment in {PEER_ENV} ...", file=sys.stderr, flush=True)
    subprocess.run([base, "-m", "venv", str(PEER_ENV)], check=True)
    subprocess.run([str(PEER_ENV / "bin" / "python"), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return executable


def peer_versions() -> str:
    code = "import thumbor, cv2; print(thumbor.__version__, cv2.__version__, hasattr(cv2, 'CascadeClassifier'))"
    out = subprocess.run([str(PEER_ENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    version, cv_version, cascade = out.stdout.split()
    return f"thumbor {version}, OpenCV {cv_version} (CascadeClassifier: {cascade})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    url_for: Callable[[str, int, int, str], str]
    box_of: Callable[[Client, str, int, int, str, Reply], tuple[float, ...]]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_ready(server: Server, probe: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}")
        try:
            if httpx.get(server.base + probe, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{server.name} did not start within {START_TIMEOUT_S} s")


def start_promptcrop(folder: Path, work: Path) -> Server:
    from promptcrop.serve.url.signing import sign_url

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "promptcrop.cli", "serve", "--offline", "--port", str(port), "--threads", "1",
         "--source", str(folder), "--url-key", KEY, "--url-salt", SALT, "--cache-dir", str(work / "pc-cache"),
         "--cache-mb", "256"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(work / "promptcrop.log", "wb"),  # noqa: SIM115
    )

    def url_for(photo: str, width: int, height: int, ratio: str) -> str:
        return sign_url(photo, key=KEY, salt=SALT, aspect=ratio, width=width, quality=QUALITY)

    def box_of(_client, _photo, _w, _h, _ratio, response: Reply) -> tuple[float, ...]:
        return tuple(float(v) for v in response.headers["x-promptcrop-box"].split(","))

    server = Server("promptcrop", process, port, url_for, box_of)
    wait_ready(server, "/healthz")
    return server


THUMBOR_CONFIG = """
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {folder!r}
STORAGE = 'thumbor.storages.file_storage'
FILE_STORAGE_ROOT_PATH = {storage!r}
RESULT_STORAGE = 'thumbor.result_storages.file_storage'
RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = {results!r}
RESULT_STORAGE_STORES_UNSAFE = True
ALLOW_UNSAFE_URL = True
SECURITY_KEY = 'benchmark'
DETECTORS = ['thumbor.detectors.face_detector', 'thumbor.detectors.feature_detector']
QUALITY = {quality}
"""


def start_thumbor(folder: Path, work: Path) -> Server:
    executable = ensure_thumbor()
    config = work / "thumbor.conf"
    config.write_text(THUMBOR_CONFIG.format(folder=str(folder), storage=str(work / "th-storage"),
                                            results=str(work / "th-results"), quality=QUALITY))
    port = free_port()
    process = subprocess.Popen(
        [str(executable), "-p", str(port), "-i", "127.0.0.1", "-c", str(config), "-l", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(work / "thumbor.log", "wb"),  # noqa: SIM115
    )

    def url_for(photo: str, width: int, height: int, _ratio: str) -> str:
        return f"/unsafe/{width}x{height}/smart/{photo}"

    def box_of(client: Client, photo, width, height, _ratio, _response) -> tuple[float, ...]:
        meta = client.get(f"/unsafe/meta/{width}x{height}/smart/{photo}").json()["thumbor"]
        crops = [op for op in meta["operations"] if op["type"] == "crop"]
        if not crops:  # nothing cut: the whole source
            return (0.0, 0.0, float(meta["source"]["width"]), float(meta["source"]["height"]))
        c = crops[0]
        return (float(c["left"]), float(c["top"]), float(c["right"]), float(c["bottom"]))

    server = Server("thumbor", process, port, url_for, box_of)
    wait_ready(server, "/healthcheck")
    return server


# ---------------------------------------------------------------------------- measurements


@dataclass
class Figures:
    boxes: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)
    miss_s: list[float] = field(default_factory=list)
    hit_s: list[float] = field(default_factory=list)
    bytes_out: int = 0
    rps: float = 0.0
    urls: list[str] = field(default_factory=list)


def sizes(width: int) -> dict[str, tuple[int, int]]:
    return {label: (width, round(width / ratio)) for label, ratio in real_photos.RATIOS.items()}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> dict:
        return json.loads(self.content)


class Client:
    """One keep-alive HTTP/1.1 connection (``http.client``: a light client, so that the figures
    are the servers' more than the load generator's; the path is sent exactly as given)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> Reply:
        try:
            self.connection.request("GET", path)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed the idle connection: once more
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.connection.request("GET", path)
            response = self.connection.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def close(self) -> None:
        self.connection.close()


def timed_get(client: Client, url: str) -> tuple[Reply, float]:
    t0 = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - t0
    if response.status != 200:
        raise SystemExit(f"{url}: {response.status} {response.content[:300]!r}")
    return response, elapsed


def first_requests(servers: list[Server], clients: dict[str, Client], figures: dict[str, Figures],
                   photos: list[str], width: int) -> None:
    """Each (photo, ratio) URL once on each server, methods interleaved: miss latency, box, bytes."""
    for photo in photos:
        for label, (w, h) in sizes(width).items():
            for server in servers:
                url = server.url_for(photo, w, h, label)
                response, elapsed = timed_get(clients[server.name], url)
                fig = figures[server.name]
                fig.miss_s.append(elapsed)
                fig.bytes_out += len(response.content)
                fig.urls.append(url)
                fig.boxes.setdefault(photo, {})[label] = server.box_of(
                    clients[server.name], photo, w, h, label, response)


def hit_requests(servers: list[Server], clients: dict[str, Client], figures: dict[str, Figures],
                 repeats: int) -> None:
    """Each cached URL ``repeats`` times on each server, alternating request by request (a load
    burst on the shared host then lands on both alike); the median per URL."""
    for index in range(len(figures[servers[0].name].urls)):
        runs: dict[str, list[float]] = {server.name: [] for server in servers}
        for _ in range(repeats):
            for server in servers:
                runs[server.name].append(timed_get(clients[server.name], figures[server.name].urls[index])[1])
        for server in servers:
            figures[server.name].hit_s.append(statistics.median(runs[server.name]))


def hit_rps(server: Server, urls: list[str], seconds: float) -> float:
    """Requests per second of :data:`CLIENTS` keep-alive clients cycling over ``urls``."""
    counts = [0] * CLIENTS
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        http = Client(server.port)
        n = i
        try:
            while time.perf_counter() < stop:
                response = http.get(urls[n % len(urls)])
                if response.status != 200:
                    failures.append(f"{response.status}")
                    return
                counts[i] += 1
                n += 1
        finally:
            http.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{server.name}: {len(failures)} failed requests under load ({failures[0]})")
    return sum(counts) / (time.perf_counter() - t0)


def quality(figures: Figures, annotations: dict, half: str | None = None) -> dict[str, float]:
    """Kept / missed / faces-cut shares over every photo, or over one half of the set."""
    rows = [real_photos.score_photo(annotations[photo], boxes) for photo, boxes in figures.boxes.items()
            if half is None or real_photos.half_of(photo) == half]
    return real_photos.summarise(rows)["all"]


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats of each cached URL")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each requests/s run")
    parser.add_argument("--width", type=int, default=320, help="output width of every crop")
    parser.add_argument("--dev-photos", type=Path, default=None,
                        help="folder of the shared development photos (default: as real_photos.py finds it)")
    parser.add_argument("--package-only", action="store_true",
                        help="only the package photos and their variants (real_photos_annotations.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="url-bench-") as tmp:
        work = Path(tmp)
        paths, annotations = real_photos.development_set(work / "generated", args.dev_photos)
        if args.package_only:
            package = json.loads(real_photos.DEFAULT_ANNOTATIONS.read_text())
            annotations = {name: ann for name, ann in annotations.items() if name in package}
        folder = work / "photos"
        folder.mkdir()
        for name in annotations:
            shutil.copyfile(paths[name], folder / name)
        photos = list(annotations)
        ensure_thumbor()
        print(f"peer: {peer_versions()}")
        servers = [start_promptcrop(folder, work), start_thumbor(folder, work)]
        try:
            return run(servers, photos, annotations, args)
        finally:
            for server in servers:
                server.stop()


def run(servers: list[Server], photos: list[str], annotations: dict, args: argparse.Namespace) -> int:
    figures = {s.name: Figures() for s in servers}
    clients = {s.name: Client(s.port) for s in servers}
    try:
        first_requests(servers, clients, figures, photos, args.width)
        hit_requests(servers, clients, figures, args.repeats)
    finally:
        for http in clients.values():
            http.close()
    rounds: dict[str, list[float]] = {s.name: [] for s in servers}
    for _ in range(RPS_ROUNDS):  # alternating rounds: a load burst on the shared host hits both
        for server in servers:
            rounds[server.name].append(hit_rps(server, figures[server.name].urls, args.seconds / RPS_ROUNDS))
    for server in servers:
        figures[server.name].rps = statistics.median(rounds[server.name])
    print(f"{len(photos)} photos x {len(real_photos.RATIOS)} ratios at width {args.width}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print()
    print("| method | subject kept | subject missed | faces cut | miss ms (median) | hit ms (median) "
          f"| hit req/s ({CLIENTS} clients) | bytes out |")
    print("|---|---|---|---|---|---|---|---|")
    table = {}
    for name, fig in figures.items():
        q = quality(fig, annotations)
        table[name] = q
        print(f"| {name} | {q['kept']:.3f} | {q['missed']:.3f} | {q['cut']:.3f} | "
              f"{1000 * statistics.median(fig.miss_s):.1f} | {1000 * statistics.median(fig.hit_s):.2f} | "
              f"{fig.rps:.0f} | {fig.bytes_out:,} |")
    print()
    print("| method | half | photos | subject kept | faces cut |")
    print("|---|---|---|---|---|")
    for name, fig in figures.items():
        for half in real_photos.HALVES:
            q = quality(fig, annotations, half)
            count = sum(real_photos.half_of(p) == half for p in fig.boxes)
            print(f"| {name} | {half} | {count} | {q['kept']:.3f} | {q['cut']:.3f} |")
    p, t = figures["promptcrop"], figures["thumbor"]
    print(
        f"RESULT kept_promptcrop={table['promptcrop']['kept']:.3f} kept_thumbor={table['thumbor']['kept']:.3f} "
        f"hit_ms_promptcrop={1000 * statistics.median(p.hit_s):.2f} hit_ms_thumbor={1000 * statistics.median(t.hit_s):.2f} "
        f"miss_ms_promptcrop={1000 * statistics.median(p.miss_s):.1f} miss_ms_thumbor={1000 * statistics.median(t.miss_s):.1f} "
        f"hit_rps_ratio={p.rps / t.rps:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
