"""Scaling out on Ray Data: images per second of the local engine, Ray with 1 actor and Ray with 2.

About 200 photos are made from the scikit-image sample photos at varied sizes (0.5x to 1.5x,
JPEG and PNG), then cropped in the weight-free offline mode, k = 1 at 1:1, 4:5 and 16:9, three
times in this one run: ``promptcrop batch`` with the local engine, with ``--engine ray
--concurrency 1`` and with ``--concurrency 2`` (a local Ray with this machine's CPUs, started
once; every run writes to a fresh output folder).

Throughput is measured in steady state, the same way for all three: the inputs finished after the
first result reached the driver, divided by the time from that first result to the last. Start-up
(Ray itself, actor processes importing promptcrop and building their predictor) is printed
separately: it is paid once per job, so it matters for 200 images and not for millions. The three
runs are repeated ``--rounds`` times, interleaved; the RESULT figures are each the best round (the
machine is shared: other load only ever slows a round down), and the ratios of each round and
their medians are printed too, since the best rounds of two variants may fall at different loads.

Ray binds to the machine's network address; like the tests, this script runs in a loopback-only
network namespace: as root it re-runs itself under ``unshare -n`` when it sees other interfaces.

Last line: ``RESULT local_ips=.. ray1_ips=.. ray2_ips=.. speedup_2v1=..``.
Targets on the 2-core machine: speedup_2v1 >= 1.6 and ray1_ips >= 0.9 x local_ips.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

RATIOS = ("1:1", "4:5", "16:9")
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg", "hubble_deep_field.jpg",
          "retina.jpg", "ihc.png")


def make_photos(folder: Path, n: int) -> list[Path]:
    """``n`` photos: the scikit-image photos scaled 0.5x-1.5x, alternately JPEG and PNG."""
    import skimage.data
    from PIL import Image

    sources = [Image.open(Path(skimage.data.__file__).parent / name).convert("RGB") for name in PHOTOS]
    paths = []
    for i in range(n):
        image = sources[i % len(sources)]
        scale = 0.5 + (i * 7 % 11) / 10  # 0.5 .. 1.5
        size = (max(32, round(image.width * scale)), max(32, round(image.height * scale)))
        path = folder / f"photo{i:03d}.{'jpg' if i % 2 else 'png'}"
        image.resize(size, Image.Resampling.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


class Clock:
    """Arrival times of the records at the driver."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.arrivals: list[float] = []

    def __call__(self, job, record, skipped) -> None:  # noqa: ANN001 - a RecordCallback
        self.arrivals.append(time.perf_counter())

    def steady_ips(self) -> float:
        first, last = self.arrivals[0], self.arrivals[-1]
        after_first = sum(1 for t in self.arrivals if t > first)
        return after_first / (last - first)

    def startup_s(self) -> float:
        return self.arrivals[0] - self.start


def run(engine: str, photos: Path, out: Path, *, concurrency: int | None, batch_size: int) -> Clock:
    from promptcrop.batch import RunOptions, jobs_from_folder, run_jobs
    from promptcrop.distributed import PredictorSpec
    from promptcrop.distributed.engine import RayBatchRunner, RayOptions
    from promptcrop.options import PredictorOptions
    from promptcrop.request import CropRequest

    spec = PredictorSpec(PredictorOptions(model=None, offline=True))
    options = RunOptions(request=CropRequest.build(k=1, aspect=list(RATIOS)))
    jobs = jobs_from_folder(photos)
    clock = Clock()
    if engine == "local":
        summary = run_jobs(jobs, spec.build(), options, out, on_record=clock, progress=False)
    else:
        runner = RayBatchRunner(spec.build(), spec, options, out, on_record=clock,
                                ray_options=RayOptions(concurrency=concurrency, batch_size=batch_size, quiet=True))
        summary = runner.run(jobs)
    if summary.failed or summary.written != len(jobs):
        raise SystemExit(f"{engine}: {summary.line()}")
    print(f"{engine:>6} x{concurrency or 1}: {summary.written} images, {summary.seconds:.1f} s wall, first result "
          f"after {clock.startup_s():.1f} s, steady {clock.steady_ips():.2f} img/s (host load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)
    return clock


def _isolated() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="photos (default 200)")
    parser.add_argument("--batch-size", type=int, default=4, help="inputs per actor call (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repeats; best round counts (default 2)")
    args = parser.parse_args(argv)
    if not _isolated():
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            raise SystemExit("run this as root (it needs `unshare -n`) or inside a loopback-only network namespace")
        os.execvp("unshare", ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
                              *sys.argv])

    import ray

    work = Path(tempfile.mkdtemp(prefix="pc-scale-", dir="/tmp"))
    try:
        photos = work / "photos"
        photos.mkdir()
        make_photos(photos, args.n)
        print(f"{args.n} photos, k=1 at {', '.join(RATIOS)}, offline mode, {os.cpu_count()} CPUs", flush=True)
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), _temp_dir=str(work / "ray"), include_dashboard=False, log_to_driver=False)
        print(f"ray.init: {time.perf_counter() - t0:.1f} s", flush=True)
        rounds: list[dict[str, float]] = []
        try:
            for r in range(args.rounds):
                ips = {}
                for name, engine, concurrency in (("local", "local", None), ("ray1", "ray", 1), ("ray2", "ray", 2)):
                    clock = run(engine, photos, work / f"{name}-{r}", concurrency=concurrency,
                                batch_size=args.batch_size)
                    ips[name] = clock.steady_ips()
                rounds.append(ips)
                print(f"round {r + 1}: ray1/local = {ips['ray1'] / ips['local']:.2f}, "
                      f"ray2/ray1 = {ips['ray2'] / ips['ray1']:.2f}", flush=True)
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"medians over rounds: ray1/local = {statistics.median(r['ray1'] / r['local'] for r in rounds):.2f}, "
          f"ray2/ray1 = {statistics.median(r['ray2'] / r['ray1'] for r in rounds):.2f}")
    local_ips, ray1_ips, ray2_ips = (max(r[name] for r in rounds) for name in ("local", "ray1", "ray2"))
    print(f"ray1/local = {ray1_ips / local_ips:.2f} (target >= 0.9)")
    print(f"RESULT local_ips={local_ips:.2f} ray1_ips={ray1_ips:.2f} ray2_ips={ray2_ips:.2f} "
          f"speedup_2v1={ray2_ips / ray1_ips:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
