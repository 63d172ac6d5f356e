"""Overhead of the Predictor over the model forwards it needs, and the int8 ONNX backend against
the bare PyTorch image encoder.

Real-size OWL-ViT B/32 at 768² with random weights (same compute as the real weights) and a
paper-size ClipCrop decoder with random weights. It times, as medians over the scikit-image
photos after a warm-up:

- ``encoder_s``: the bare PyTorch image-encoder forward (``image_embedder``) on pre-made pixel values;
- ``floor_s``: the sum of the bare PyTorch forwards the Predictor needs for one photo — the image
  side with its heads (``image_embedder``, ``box_predictor``, ``class_predictor``), the query
  logits of the cached text embeddings (``class_predictor`` with queries) and the decoder
  (inference path); the text tower is not counted (its embeddings are cached);
- ``predictor_s``: the whole torch ``Predictor.predict`` (load, pre-process, encode, grounding with
  the cached text query, decoder, post-processing) on the same photos;
- ``int8_s``: the same ``Predictor.predict`` on the int8 ONNX Runtime backend (``export-onnx --int8``).

A user runs one backend, not both, so the run is split into phases: a torch phase (the PyTorch
Predictor loaded; the first three figures, one after another) and an int8 phase (the ONNX Predictor alone: it loads no PyTorch weights).
What a phase loaded is released at its end (dropped, ``gc.collect``, glibc's ``malloc_trim``)
before the next one loads, so that the process's peak memory is the larger of the two
backends', not their sum. Passes alternate the phases (``--repeats``), each loading its backend
afresh, so that a busy machine slows both backends' figures alike; each figure is the median over
the passes. The peak resident memory of each phase is printed (Linux ``VmHWM``, reset between
phases) and ``peak_rss_mb`` is the whole process's (the highest of the phases and start-up).

Last line: ``RESULT encoder_s=.. floor_s=.. predictor_s=.. glue_ratio=<predictor_s/floor_s>
int8_ratio=<int8_s/encoder_s> peak_rss_mb=..``. Targets on the 2-core machine: glue_ratio <= 1.05,
int8_ratio <= 0.55, peak RSS of the whole process <= 1500 MB.

The model directories and the int8 export are built once under ``.bench/``, in child processes so
that building and exporting do not count towards this process's peak memory.
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


def build_models(root: Path) -> tuple[Path, Path, Path]:
    """Real-size random OWL-ViT dir, paper-preset random decoder checkpoint and their int8 ONNX
    export (cached on disk)."""
    model_dir, decoder_dir = root / "owlvit-base-random", root / "decoder-paper-random"
    onnx_dir = root / "onnx-int8"
    if not (model_dir / "config.json").exists() or not (decoder_dir / "config.json").exists():
        code = f"""
import torch
from promptcrop.testing import build_owlvit_dir
from promptcrop.model.encoder import OwlViTEncoder
from promptcrop.config import get_preset
from promptcrop.model.decoder import ClipCropDecoder
from promptcrop.model.checkpoint import EncoderInfo, save_decoder
build_owlvit_dir({str(model_dir)!r}, size="base", vocab="clip", seed=0)
enc = OwlViTEncoder.from_pretrained({str(model_dir)!r})
torch.manual_seed(0)
save_decoder(ClipCropDecoder(get_preset("paper").decoder), {str(decoder_dir)!r}, encoder_info=EncoderInfo.from_encoder(enc), preset="paper", overwrite=True)
"""
        subprocess.run([sys.executable, "-c", code], check=True)
    if not (onnx_dir / "manifest.json").exists():
        subprocess.run(
            [sys.executable, "-m", "promptcrop.cli", "export-onnx", "--model", str(model_dir), "--decoder",
             str(decoder_dir), "--out", str(onnx_dir), "--int8", "--offline", "--overwrite"],
            check=True,
        )
    return model_dir, decoder_dir, onnx_dir


def sample_images() -> list:
    import skimage.data

    from promptcrop.images import load_image

    folder = Path(skimage.data.__file__).parent
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]
    return [load_image(folder / n).array for n in names if (folder / n).exists()]


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    import os

    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Peak resident memory (``VmHWM``, Linux) since the process started or since the last
    :func:`reset_peak`, in MB; ``ru_maxrss`` where ``/proc`` does not say."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Start measuring a new phase's peak: Linux resets ``VmHWM`` (and with it ``ru_maxrss``)
    when 5 is written to ``clear_refs``. False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def release_memory() -> None:
    """Collect what the finished phase dropped and hand glibc's freed heap back to the system,
    so that the next phase starts from about what a fresh process would hold."""
    import gc

    from promptcrop.backends.onnx import release_freed_memory

    gc.collect()
    release_freed_memory()


def median_time(fn, items) -> float:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_phase(common: dict, images: list, memory: dict[str, float]) -> tuple[dict[str, float], dict]:
    """One pass of the PyTorch figures (bare encoder, floor, whole torch Predictor); returns their
    medians over the photos and one photo's stage times. What it loads is dropped when it returns."""
    import torch

    from promptcrop.model.grounding import ground
    from promptcrop.predictor import Predictor

    predictor = Predictor(**common).load()
    encoder, decoder = predictor.encoder, predictor.decoder_model
    model = encoder.model
    pixel_values = [encoder.preprocess([im]) for im in images]
    memory["torch loaded"] = max(memory.get("torch loaded", 0.0), rss_mb())

    def full(im):
        predictor.predict(im, query=QUERY, k=5, aspect="1:1")

    full(images[0])  # warm-up: caches the query's text embeddings
    phrases = predictor.predict(images[0], query=QUERY).phrases
    with torch.inference_mode():
        queries = encoder.embed_texts(phrases).embeds[None]  # [1, W, C], as the Predictor caches them
        enc0 = encoder.encode_images(pixel_values[0])
        g = ground(enc0, encoder.query_logits(enc0, queries))  # the decoder's inputs: fixed, their cost is not

    def bare(pv):
        with torch.inference_mode():
            model.image_embedder(pixel_values=pv)

    def floor(pv):
        with torch.inference_mode():
            feature_map = model.image_embedder(pixel_values=pv)[0]
            b, gh, gw, d = feature_map.shape
            tokens = feature_map.reshape(b, gh * gw, d)
            model.box_predictor(tokens, feature_map)
            model.class_predictor(tokens)
            model.class_predictor(tokens, queries)
            decoder(tokens, (gh, gw), g.tokens, g.mask, g.union_cxcywh, all_layers=False)

    bare(pixel_values[0])
    floor(pixel_values[0])
    times = {
        "encoder": median_time(bare, pixel_values),
        "floor": median_time(floor, pixel_values),
        "predictor": median_time(full, images),
    }
    stages = predictor.predict(images[0], query=QUERY, k=5, aspect="1:1").timings
    return times, stages


def int8_phase(common: dict, onnx_dir: Path, images: list, memory: dict[str, float]) -> tuple[dict[str, float], dict]:
    """One pass of the whole Predictor on the int8 ONNX backend (which loads no PyTorch weights);
    returns its median over the photos and one photo's stage times."""
    from promptcrop.predictor import Predictor

    int8 = Predictor(**common, backend="onnx", onnx_dir=str(onnx_dir)).load()
    memory["int8 loaded"] = max(memory.get("int8 loaded", 0.0), rss_mb())

    def full_int8(im):
        int8.predict(im, query=QUERY, k=5, aspect="1:1")

    full_int8(images[0])  # warm-up: caches the query's text embeddings
    times = {"int8": median_time(full_int8, images)}
    stages = int8.predict(images[0], query=QUERY, k=5, aspect="1:1").timings
    return times, stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(".bench"))
    parser.add_argument("--repeats", type=int, default=5, help="passes, each a torch phase then an int8 phase")
    args = parser.parse_args(argv)

    import torch

    import promptcrop.predictor  # noqa: F401  (imports counted before the first phase)

    model_dir, decoder_dir, onnx_dir = build_models(args.cache)
    images = sample_images()
    if len(images) < 5:
        raise SystemExit(f"need >= 5 sample photos, found {len(images)}")
    common = dict(model=str(model_dir), decoder=str(decoder_dir), local_files_only=True)
    memory = {"imports": rss_mb()}
    peaks = {"torch": 0.0, "int8": 0.0}
    runs: dict[str, list[float]] = {"encoder": [], "floor": [], "predictor": [], "int8": []}
    stages: dict[str, dict] = {}
    process_peak = peak_mb()  # start-up and imports
    for _ in range(args.repeats):
        for phase in ("torch", "int8"):
            process_peak = max(process_peak, peak_mb())
            reset_peak()
            if phase == "torch":
                times, stages[phase] = torch_phase(common, images, memory)
            else:
                times, stages[phase] = int8_phase(common, onnx_dir, images, memory)
            release_memory()
            peaks[phase] = max(peaks[phase], peak_mb())
            for name, value in times.items():
                runs[name].append(value)
    process_peak = max(process_peak, *peaks.values(), peak_mb())  # the whole process: the highest phase
    s = {name: statistics.median(values) for name, values in runs.items()}
    spread = max((max(v) - min(v)) / min(v) for v in runs.values())
    if spread > 0.15:
        print(f"WARNING: timings unstable (passes differ by up to {spread:.0%}; the machine is busy): rerun")
    print("per-pass medians (s):", {name: [round(v, 4) for v in values] for name, values in runs.items()})
    for name, timings in stages.items():
        print(f"per-stage seconds, {name} (one photo):", {k: round(v, 4) for k, v in timings.items()})
    memory["end"] = rss_mb()
    print("resident MB:", {k: round(v) for k, v in memory.items()})
    print("peak resident MB of each phase:", {k: round(v) for k, v in peaks.items()})
    print(f"threads: torch {torch.get_num_threads()}, onnxruntime default (one per physical core), no spinning")
    print(
        f"RESULT encoder_s={s['encoder']:.4f} floor_s={s['floor']:.4f} predictor_s={s['predictor']:.4f} "
        f"glue_ratio={s['predictor'] / s['floor']:.3f} int8_s={s['int8']:.4f} "
        f"int8_ratio={s['int8'] / s['encoder']:.3f} peak_rss_mb={process_peak:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
