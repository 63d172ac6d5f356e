"""``promptcrop demo``: the main job on bundled inputs, with no download.

The scikit-image sample photos (installed with scikit-image, no network) are cropped in the
weight-free offline mode at 1:1, 4:5 and 16:9 (``DIR/offline/``). When OWL-ViT weights load from a
local directory or the local Hugging Face cache, the same photos are also cropped for text queries
(``DIR/text/``); otherwise one line says how to enable that. Each photo also gets an overlay.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from promptcrop.batch import BatchSummary, Job, RunOptions, run_jobs
from promptcrop.config import DEFAULT_MODEL_ID
from promptcrop.errors import PromptcropError
from promptcrop.extras import require
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest

DEMO_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
"""scikit-image sample photos used when present on disk (some skimage data is fetched lazily)."""
DEMO_QUERIES = {
    "astronaut.png": ("the astronaut's face", "the flag"),
    "chelsea.png": ("the cat",),
    "coffee.png": ("the coffee cup",),
}
"""Text queries per photo for the text-query part."""
DEMO_ASPECTS = ("1:1", "4:5", "16:9")


def demo_photos() -> list[Path]:
    """The :data:`DEMO_PHOTOS` found in scikit-image's data folder (never downloads)."""
    skimage_data = require("skimage.data", "promptcrop demo needs the sample photos of")

    folder = Path(skimage_data.__file__).parent
    return [folder / name for name in DEMO_PHOTOS if (folder / name).is_file()]


def offline_jobs(photos: list[Path]) -> list[Job]:
    """One job per photo, outputs named after its stem."""
    return [Job(source=os.fspath(p), key=p.stem) for p in photos]


def text_jobs(photos: list[Path]) -> list[Job]:
    """One job per (photo, query) of :data:`DEMO_QUERIES`, outputs named ``<stem>-<query>``."""
    return [
        Job(source=os.fspath(p), key=f"{p.stem}-{_slug(q)}", query=q)
        for p in photos
        for q in DEMO_QUERIES.get(p.name, ())
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    model: str = DEFAULT_MODEL_ID,
    device: str = "cpu",
    k: int = 3,
    overwrite: bool = False,
    progress: bool | None = None,
    verbose: bool = False,
) -> int:
    """Run the demo into ``out_dir``; returns the exit code (0, or 1 if a photo failed).

    Never touches the network: the offline part needs no weights, the text part loads ``model``
    from a local directory or the local cache only.
    """
    photos = demo_photos()
    if not photos:
        raise PromptcropError("no scikit-image sample photos found on disk (is scikit-image installed?)")
    options = RunOptions(request=CropRequest.build(k=k, aspect=list(DEMO_ASPECTS)), overlay=True, overwrite=overwrite)
    out = Path(out_dir)
    print(f"promptcrop demo: cropping {len(photos)} sample photos at {', '.join(DEMO_ASPECTS)}", flush=True)
    summaries = [_run(offline_jobs(photos), Predictor(model=None, mode="offline", device=device),
                      options, out / "offline", progress, verbose)]
    predictor = Predictor(model=model, device=device, local_files_only=True)
    if predictor.weights_available():
        summaries.append(_run(text_jobs(photos), predictor, options, out / "text", progress, verbose))
    else:
        print(
            f"promptcrop demo: text-query crops skipped: OWL-ViT weights ({model}) are not on this "
            f"machine; run `promptcrop download` while online, or pass --model DIR with a local "
            "OWL-ViT directory",
            flush=True,
        )
    first = out / "offline" / f"{photos[0].stem}.overlay.png"
    print(f"promptcrop demo: outputs in {out.resolve()} (start with {first})", flush=True)
    return max(s.exit_code for s in summaries)


def _run(
    jobs: list[Job], predictor: Predictor, options: RunOptions, out: Path, progress: bool | None, verbose: bool
) -> BatchSummary:
    summary = run_jobs(jobs, predictor, options, out, progress=progress, verbose=verbose)
    print(summary.line(), file=sys.stdout, flush=True)
    return summary
