"""promptcrop's offline mode against the smartcrop PyPI package.

On the same images — the scikit-image photos plus synthetic scenes at 512² and 2048² — and the same
target ratios (1:1, 4:5, 16:9), in one run:

- **time**: per image, the median over repeats of producing the crops for all three ratios from
  the decoded image (decode excluded). promptcrop offline = ``compute_saliency`` once +
  ``salient_region`` + one ``compose`` per ratio (k = 1) + ``snap_to_pixels``; smartcrop = one
  ``SmartCrop().crop`` per ratio, called as its own CLI calls it (``width=100``,
  ``height=100 * h / w``). The two run interleaved so that CPU contention hits both alike.
- **kept**: on the synthetic scenes, whose subject box is known, the share of (scene, ratio) pairs
  whose crop contains the whole subject (within 1 px). Subjects are placed anywhere, mostly
  off-centre and sometimes touching a border, on a textured background with clutter lines;
  subject colours include muted and skin tones, not only vivid ones. Seeds are fixed.
- **composer speed**: ``score_candidates`` on ≥ 5,000 candidates with a saliency map, keep and
  avoid boxes (median of repeats, single-threaded).

Last line: ``RESULT time_ratio=<promptcrop/smartcrop> kept_promptcrop=<frac> kept_smartcrop=<frac>``
where ``time_ratio`` is the sum of the per-image medians of promptcrop over that of smartcrop.
Targets: time_ratio ≤ 1.0, kept_promptcrop > kept_smartcrop, composer < 20 ms.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # "one core" for the composer timing

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import smartcrop  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from promptcrop import boxes as B  # noqa: E402
from promptcrop.composer import ComposerConfig, compose, enumerate_candidates, score_candidates  # noqa: E402
from promptcrop.saliency import compute_saliency, salient_region  # noqa: E402

RATIOS = {"1:1": 1.0, "4:5": 4 / 5, "16:9": 16 / 9}
PHOTOS = (
    "astronaut", "camera", "chelsea", "coffee", "rocket", "coins",
    "hubble_deep_field", "immunohistochemistry", "retina",
)
SUBJECT_COLOURS = (
    (210, 40, 40), (40, 70, 200), (235, 200, 40), (60, 160, 80), (225, 170, 140),
    (35, 35, 45), (240, 240, 235), (150, 110, 90),
)


@dataclass
class Sample:
    """One benchmark image: ``rgb`` uint8 ``[H, W, 3]``; ``subject`` xyxy px or None (photos)."""

    name: str
    rgb: np.ndarray
    subject: np.ndarray | None


# ---------------------------------------------------------------------------- images


def photos() -> list[Sample]:
    import skimage.data

    out = []
    for name in PHOTOS:
        arr = np.asarray(getattr(skimage.data, name)())
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        out.append(Sample(name, np.ascontiguousarray(arr[..., :3].astype(np.uint8)), None))
    return out


def textured_background(size: int, rng: np.random.Generator) -> Image.Image:
    """Muted multi-scale noise (cloud-like) plus per-pixel grain and a dozen clutter lines."""
    base = rng.uniform(60, 170, 3)
    noise = np.zeros((size, size), np.float32)
    for cell in (size // 128, size // 32, size // 8):
        grid = rng.normal(0, 1, (size // max(cell, 1) + 1,) * 2).astype(np.float32)
        noise += np.asarray(Image.fromarray(grid).resize((size, size), Image.Resampling.BILINEAR))
    tint = rng.normal(0, 8, 3)
    pixels = base + noise[..., None] * (10 + tint) + rng.normal(0, 8, (size, size, 1))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.uniform(0, size, 2)
        dx, dy = rng.uniform(-size / 3, size / 3, 2)
        colour = tuple(int(v) for v in np.clip(base + rng.normal(0, 40, 3), 0, 255))
        draw.line([x0, y0, x0 + dx, y0 + dy], fill=colour, width=max(1, size // 200))
    return image


def synthetic_scene(size: int, seed: int) -> Sample:
    """A textured square scene with one subject (an ellipse with an inner detail) anywhere in it.

    The subject's side is 10–30 % of the image, so it fits every target ratio; its position is
    uniform over the image, which puts most subjects off-centre and some against a border.
    """
    rng = np.random.default_rng(seed)
    image = textured_background(size, rng)
    sw, sh = rng.uniform(0.1, 0.3, 2) * size
    x, y = rng.uniform(0, size - sw), rng.uniform(0, size - sh)
    colour = SUBJECT_COLOURS[seed % len(SUBJECT_COLOURS)]
    draw = ImageDraw.Draw(image)
    draw.ellipse([x, y, x + sw, y + sh], fill=colour)
    inner = tuple(255 - c for c in colour)
    draw.rectangle([x + 0.35 * sw, y + 0.3 * sh, x + 0.65 * sw, y + 0.5 * sh], fill=inner)
    subject = np.array([np.floor(x), np.floor(y), np.ceil(x + sw), np.ceil(y + sh)])
    return Sample(f"synthetic{size}-{seed}", np.asarray(image), subject)


# ---------------------------------------------------------------------------- the two croppers


def promptcrop_offline(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Ratio name → int xyxy crop, promptcrop's offline mode (saliency computed once)."""
    height, width = rgb.shape[:2]
    sal = compute_saliency(rgb)
    region = salient_region(sal)
    out = {}
    for name, aspect in RATIOS.items():
        best = compose((width, height), region, aspect=aspect, k=1, saliency=sal)[0]
        out[name] = B.snap_to_pixels(best.box_xyxy_px, width, height, aspect)
    return out


def smartcrop_crops(pil: Image.Image, cropper: smartcrop.SmartCrop) -> dict[str, np.ndarray]:
    """Ratio name → int xyxy crop from smartcrop, called the way its CLI calls it."""
    out = {}
    for name, aspect in RATIOS.items():
        top = cropper.crop(pil, width=100, height=int(100 / aspect))["top_crop"]
        out[name] = np.array([top["x"], top["y"], top["x"] + top["width"], top["y"] + top["height"]])
    return out


def timed(fn: Callable[[], dict[str, np.ndarray]]) -> tuple[float, dict[str, np.ndarray]]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------------- measurements


def kept(crops: dict[str, np.ndarray], subject: np.ndarray) -> int:
    return sum(bool(B.contains(box.astype(float), subject, tol=1.0)) for box in crops.values())


def ratio_error_px(crops: dict[str, np.ndarray]) -> float:
    """Worst deviation from the requested ratio, in pixels of height."""
    worst = 0.0
    for name, box in crops.items():
        w, h = box[2] - box[0], box[3] - box[1]
        worst = max(worst, abs(w / RATIOS[name] - h))
    return worst


def run_sample(sample: Sample, repeats: int, cropper: smartcrop.SmartCrop) -> dict:
    pil = Image.fromarray(sample.rgb)
    pc_times, sc_times = [], []
    for _ in range(repeats):  # interleaved, first round included after a warm-up below
        t, pc = timed(lambda: promptcrop_offline(sample.rgb))
        pc_times.append(t)
        t, sc = timed(lambda: smartcrop_crops(pil, cropper))
        sc_times.append(t)
    row = {
        "name": sample.name,
        "size": f"{sample.rgb.shape[1]}x{sample.rgb.shape[0]}",
        "pc_s": statistics.median(pc_times),
        "sc_s": statistics.median(sc_times),
        "pc_ratio_err": ratio_error_px(pc),
        "sc_ratio_err": ratio_error_px(sc),
    }
    if sample.subject is not None:
        row["pc_kept"], row["sc_kept"] = kept(pc, sample.subject), kept(sc, sample.subject)
    return row


def composer_speed(repeats: int) -> tuple[int, float]:
    """(number of candidates, median seconds) of ``score_candidates`` with every term active."""
    scene = synthetic_scene(512, seed=100)
    sal = compute_saliency(scene.rgb)
    config = ComposerConfig(num_scales=20, position_steps=20)
    crops, _ = enumerate_candidates((512, 512), scene.subject, 1.0, config)
    if len(crops) < 5000:
        raise RuntimeError(f"only {len(crops)} candidates; the speed check needs >= 5000")
    kwargs = dict(
        image_size=(512, 512), region_xyxy_px=scene.subject, saliency=sal,
        keep=np.array([[10.0, 10.0, 60.0, 60.0]]), avoid=np.array([[440.0, 440.0, 500.0, 500.0]]),
        config=config,
    )
    score_candidates(crops, **kwargs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        score_candidates(crops, **kwargs)
        times.append(time.perf_counter() - start)
    return len(crops), statistics.median(times)


def print_table(rows: list[dict]) -> None:
    print(f"{'image':24s} {'size':>10s} {'promptcrop ms':>14s} {'smartcrop ms':>13s} {'ratio':>6s}"
          f" {'kept pc/sc':>11s} {'ratio err px pc/sc':>19s}")
    for r in rows:
        kept_text = f"{r['pc_kept']}/3 {r['sc_kept']}/3" if "pc_kept" in r else "-"
        print(f"{r['name']:24s} {r['size']:>10s} {r['pc_s'] * 1e3:14.1f} {r['sc_s'] * 1e3:13.1f}"
              f" {r['pc_s'] / r['sc_s']:6.2f} {kept_text:>11s}"
              f" {r['pc_ratio_err']:9.2f}/{r['sc_ratio_err']:.2f}")


def group_summary(label: str, rows: list[dict]) -> None:
    pc, sc = sum(r["pc_s"] for r in rows), sum(r["sc_s"] for r in rows)
    print(f"{label:24s} promptcrop {pc * 1e3:8.1f} ms  smartcrop {sc * 1e3:8.1f} ms  ratio {pc / sc:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats per image")
    parser.add_argument("--scenes-512", type=int, default=24, help="synthetic scenes at 512²")
    parser.add_argument("--scenes-2048", type=int, default=8, help="synthetic scenes at 2048²")
    args = parser.parse_args(argv)

    samples = photos()
    samples += [synthetic_scene(512, seed) for seed in range(args.scenes_512)]
    samples += [synthetic_scene(2048, 1000 + seed) for seed in range(args.scenes_2048)]
    cropper = smartcrop.SmartCrop()
    promptcrop_offline(samples[0].rgb), smartcrop_crops(Image.fromarray(samples[0].rgb), cropper)  # warm-up

    rows = [run_sample(s, args.repeats, cropper) for s in samples]
    print_table(rows)
    print()
    group_summary("scikit-image photos", [r for r in rows if "pc_kept" not in r])
    group_summary("synthetic 512²", [r for r in rows if r["name"].startswith("synthetic512")])
    group_summary("synthetic 2048²", [r for r in rows if r["name"].startswith("synthetic2048")])

    n, seconds = composer_speed(repeats=20)
    print(f"composer: score_candidates on {n} candidates in {seconds * 1e3:.2f} ms "
          f"(median of 20, one thread; target < 20 ms)")

    scored = [r for r in rows if "pc_kept" in r]
    pairs = 3 * len(scored)
    kept_pc = sum(r["pc_kept"] for r in scored) / pairs
    kept_sc = sum(r["sc_kept"] for r in scored) / pairs
    time_ratio = sum(r["pc_s"] for r in rows) / sum(r["sc_s"] for r in rows)
    print(f"kept on {len(scored)} synthetic scenes x 3 ratios: promptcrop {kept_pc:.3f}, smartcrop {kept_sc:.3f}")
    print(f"RESULT time_ratio={time_ratio:.3f} kept_promptcrop={kept_pc:.3f} kept_smartcrop={kept_sc:.3f}")


if __name__ == "__main__":
    main()
