"""Overhead of the Predictor over the bare OWL-ViT image encoder (issue: core).

Real-size OWL-ViT B/32 at 768² with random weights (same compute as the real weights) and a
paper-size ClipCrop decoder with random weights. In one run it times, as medians over the
scikit-image photos after a warm-up:

- ``encoder_s``: the bare image-encoder forward (``image_embedder``) on pre-made pixel values;
- ``predictor_s``: the whole ``Predictor.predict`` (load, pre-process, encode, grounding with a
  cached text query, decoder, post-processing) on the same photos.

Last line: ``RESULT encoder_s=<s> predictor_s=<s> ratio=<predictor/encoder> peak_rss_mb=<mb>``.
Targets: ratio <= 1.05 and peak RSS <= 1500 MB on the 2-core machine.

The model directories are built once under ``.bench/`` (in a child process so that building
does not count towards this process's peak memory).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERY = "a dog, a cat and a bird"  # three keywords


def build_models(root: Path) -> tuple[Path, Path]:
    """Real-size random OWL-ViT dir + paper-preset random decoder checkpoint (cached on disk)."""
    model_dir, decoder_dir = root / "owlvit-base-random", root / "decoder-paper-random"
    if not (model_dir / "config.json").exists() or not (decoder_dir / "config.json").exists():
        code = f"""
import torch
from promptcrop.tiny_models import build_owlvit_dir
from promptcrop.encoder import OwlViTEncoder
from promptcrop.config import get_preset
from promptcrop.decoder import ClipCropDecoder
from promptcrop.checkpoint import EncoderInfo, save_decoder
build_owlvit_dir({str(model_dir)!r}, size="base", vocab="clip", seed=0)
enc = OwlViTEncoder.from_pretrained({str(model_dir)!r})
torch.manual_seed(0)
save_decoder(ClipCropDecoder(get_preset("paper").decoder), {str(decoder_dir)!r}, encoder_info=EncoderInfo.from_encoder(enc), preset="paper")
"""
        subprocess.run([sys.executable, "-c", code], check=True)
    return model_dir, decoder_dir


def sample_images() -> list:
    import skimage.data
    from promptcrop.images import load_image

    folder = Path(skimage.data.__file__).parent
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]
    return [load_image(folder / n).array for n in names if (folder / n).exists()]


def median_time(fn, items, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    parser.add_argument("--repeats", type=int, default=2, help="passes over the photos")
    args = parser.parse_args(argv)

    import torch

    from promptcrop.predictor import Predictor

    model_dir, decoder_dir = build_models(args.cache)
    images = sample_images()
    if len(images) < 5:
        raise SystemExit(f"need >= 5 sample photos, found {len(images)}")
    predictor = Predictor(model=str(model_dir), decoder=str(decoder_dir), local_files_only=True)
    encoder = predictor.encoder
    pixel_values = [encoder.preprocess([im]) for im in images]

    def bare(pv):
        with torch.inference_mode():
            encoder.model.image_embedder(pixel_values=pv)

    def full(im):
        predictor.predict(im, query=QUERY, k=5, aspect="1:1")

    full(images[0])  # warm-up: loads the decoder and caches the query's text embeddings
    bare(pixel_values[0])
    # Interleave the two measurements so machine load affects both alike.
    enc_times, pred_times = [], []
    for _ in range(args.repeats):
        enc_times.append(median_time(bare, pixel_values, 1))
        pred_times.append(median_time(full, images, 1))
    encoder_s, predictor_s = statistics.median(enc_times), statistics.median(pred_times)
    stages = predictor.predict(images[0], query=QUERY, k=5, aspect="1:1").timings
    print("per-stage seconds (one photo):", {k: round(v, 4) for k, v in stages.items()})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RESULT encoder_s={encoder_s:.4f} predictor_s={predictor_s:.4f} "
        f"ratio={predictor_s / encoder_s:.3f} peak_rss_mb={peak_mb:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
