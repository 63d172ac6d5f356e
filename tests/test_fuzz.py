"""Fuzz: every valid image and query gets crops, whatever the model outputs.

Seeded random cases over predictors (the offline mode; zero-shot on a tiny OWL-ViT from the
project's builder and on ones with transformers' own initialisation, whose saturated box head
gives zero-size boxes on the image border; ClipCrop with a tiny decoder, one with wild offsets and
one whose weights are NaN) × images (noise, flat colour, 1 × 1, 1 × 4000, 4000 × 1, a photo) ×
text queries (one letter, 40 words, non-ASCII, emoji, repeated words, no noun at all) × query
images × ratios, exact sizes, ``fit`` and focus / avoid boxes. Invariants of every call:

- it returns at least one crop for every requested ratio, each inside the image (or padded,
  with ``fit="pad"``), at least 1 × 1 pixel, with a finite score in [0, 1];
- every crop has its ratio within 1 px, and every crop that reports ``fits`` holds every focus
  box (clipped to the image) — on every predictor, the decoders that do not fall back included;
- its record is strict JSON (no NaN);
- or, for invalid input only (a focus box outside the image), it raises ``RequestError`` with a
  one-line message.

A second run (``FILE_CASES``) gives the images as files — JPEG with EXIF rotation, JPEGs of
1024 px and more (the offline mode decodes them reduced), a wide PNG — with ``exclude`` phrases
on the predictors that have weights.

``make test`` runs ``FAST_CASES`` + ``FILE_CASES`` cases; ``make test-slow`` runs ``SLOW_CASES`` more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptcrop import boxes as B
from promptcrop.errors import RequestError
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest

FAST_CASES = 100
FILE_CASES = 40
SLOW_CASES = 2000
#: A snapped crop may lose up to this much of a focus box's edge to rounding (px).
SNAP_TOLERANCE = 1.0
#: (stored W, H, EXIF orientation or None, suffix) of the image files; orientation 6 stores the
#: photo rotated, so the upright image is H x W.
FILES = ((300, 200, 6, ".jpg"), (1280, 960, None, ".jpg"), (1536, 1024, 8, ".jpg"), (1024, 300, None, ".png"),
         (200, 1100, 3, ".jpg"))
EXCLUDES = ((), ("the watermark",), ("a tree", "the man on the left"))

QUERIES = (
    None, "a dog", "x", "é", "🐶🐱 on the 🛥️", "the the the the", "dog dog dog dog dog",
    "a café with crème brûlée and 寿司", "!!!", "of", "and",
    " ".join(["the small red ball beside a tall green tree"] * 4),  # 40 words
)
RATIOS = (None, "1:1", ["16:9", "9:16"], "3:1", "1:7", ["4:5", "1.91"], 20.0)  # 20:1: RequestLimits' extreme


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    noise = (rng.random((150, 260, 3)) * 255).astype(np.uint8)
    flat = np.full((90, 120, 3), (40, 120, 200), np.uint8)
    out = [noise, flat, np.full((1, 1, 3), 200, np.uint8), np.full((1, 4000, 3), 30, np.uint8),
           np.full((4000, 1, 3), 220, np.uint8), (rng.random((33, 7, 3)) * 255).astype(np.uint8)]
    try:
        import skimage.data

        out.append(skimage.data.astronaut()[::4, ::4])  # a real photo, 128 x 128
    except Exception:  # noqa: BLE001 - scikit-image is a dependency; keep the suite robust anyway
        pass
    return out


IMAGES = _images()


@dataclass(frozen=True)
class Case:
    image: int
    query: str | None
    query_image: int | None
    aspect: Any
    size: str | None
    fit: str
    k: int
    focus: tuple
    avoid: tuple


def _cases(n: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        i = int(rng.integers(len(IMAGES)))
        h, w = IMAGES[i].shape[:2]
        query_image = int(rng.integers(len(IMAGES))) if rng.random() < 0.15 else None
        query = None if query_image is not None else QUERIES[int(rng.integers(len(QUERIES)))]
        sized = rng.random() < 0.2
        boxes = []
        for _ in range(2):
            if rng.random() < 0.3:
                x1, y1 = rng.random() * w * 0.9, rng.random() * h * 0.9
                boxes.append(((x1, y1, min(w, x1 + 1 + rng.random() * w), min(h, y1 + 1 + rng.random() * h)),))
            else:
                boxes.append(())
        cases.append(Case(
            image=i, query=query, query_image=query_image,
            aspect=None if sized else RATIOS[int(rng.integers(len(RATIOS)))],
            size=_valid_size(rng) if sized else None,
            fit="pad" if rng.random() < 0.3 else "crop", k=int(rng.integers(1, 5)),
            focus=boxes[0], avoid=boxes[1],
        ))
    return cases


def _valid_size(rng: np.random.Generator) -> str:
    """An exact output size below 400 px a side, within RequestLimits' ratios (1:20 to 20:1)."""
    w = int(rng.integers(1, 400))
    h = int(rng.integers(max(1, -(-w // 20)), min(400, w * 20)))
    return f"{w}x{h}"


def _check(pred, case: Case, size: tuple[int, int]) -> None:
    request = CropRequest.build(k=case.k, aspect=case.aspect, size=case.size, fit=case.fit)
    W, H = pred.image_size
    assert (W, H) == size
    focus = [B.clamp_xyxy(np.asarray(f, float), W, H) for f in case.focus]
    by_ratio: dict[str, int] = {}
    for crop in pred:
        by_ratio[crop.ratio] = by_ratio.get(crop.ratio, 0) + 1
        x1, y1, x2, y2 = crop.box
        assert x2 - x1 >= 1 and y2 - y1 >= 1, crop
        if not crop.padded:
            assert 0 <= x1 and 0 <= y1 and x2 <= W and y2 <= H, (crop, W, H)
        else:
            assert case.fit == "pad", crop
        assert np.isfinite(crop.score) and 0.0 <= crop.score <= 1.0, crop
        if crop.aspect is not None:
            w, h = x2 - x1, y2 - y1
            assert abs(w - h * crop.aspect) <= 1.0 or abs(h - w / crop.aspect) <= 1.0, crop
        if crop.fits:
            for box in focus:
                assert bool(B.contains(np.array(crop.box, float), box, tol=SNAP_TOLERANCE)), (crop, box)
    for label in request.labels:
        # no ratio asked: the decoder's free boxes, or the image's own ratio when it fell back
        found = by_ratio.get(label, 0) + (by_ratio.get("free", 0) if label == "original" else 0)
        assert 1 <= found <= case.k, (label, by_ratio)
    json.dumps(pred.to_dict(), allow_nan=False)


def _run(predictor: Predictor, case: Case) -> None:
    kwargs = dict(k=case.k, aspect=case.aspect, size=case.size, fit=case.fit, focus=list(case.focus),
                  avoid=list(case.avoid))
    query_image = None if case.query_image is None else IMAGES[case.query_image]
    if predictor.model_id is None and (case.query is not None or query_image is not None):
        kwargs.update(query=None)
        query_image = None
    else:
        kwargs.update(query=case.query)
    image = IMAGES[case.image]
    try:
        pred = predictor.predict(image, query_image=query_image, **kwargs)
    except RequestError as err:
        # the one refusal a valid call can meet: every letterbox above RequestLimits.max_pixels
        # (a 4000 px line padded to 1:7); the same call cropping instead of padding is answered
        assert case.fit == "pad" and "output canvas" in str(err), err
        _run(predictor, replace(case, fit="crop"))
        return
    _check(pred, case, (image.shape[1], image.shape[0]))


# ---------------------------------------------------------------------- predictors


def _decoder_dir(root: Path, owlvit_dir: Path, name: str, tweak: str) -> Path:
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder

    torch.manual_seed(3)
    decoder = ClipCropDecoder(get_preset("tiny").decoder)
    with torch.no_grad():
        last = decoder.box_head[-1]
        if tweak == "wild":  # offsets of several image sizes: boxes far off the image
            last.weight.normal_(0.0, 5.0)
            last.bias.uniform_(-4.0, 4.0)
        elif tweak == "nan":
            last.weight.fill_(float("nan"))
            decoder.score_head.bias.fill_(float("nan"))
        else:
            for p in decoder.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    out = root / name
    encoder = OwlViTEncoder.from_pretrained(str(owlvit_dir))
    save_decoder(decoder, out, encoder_info=EncoderInfo.from_encoder(encoder), preset="tiny")
    return out


@pytest.fixture(scope="module")
def predictors(tmp_path_factory, small_owlvit_dir) -> dict[str, Predictor]:
    from promptcrop.testing import build_owlvit_dir

    root = tmp_path_factory.mktemp("fuzz")
    out: dict[str, Predictor] = {"offline": Predictor(model=None)}
    tiny = Predictor(model=str(small_owlvit_dir), local_files_only=True)  # 256 px: fast forwards
    out["zeroshot-tiny"] = tiny
    for seed in (0, 1):
        raw = build_owlvit_dir(root / f"hf-init-{seed}", heads="transformers", seed=seed, image_size=256)
        out[f"zeroshot-hf-init-{seed}"] = Predictor(model=str(raw), local_files_only=True)
        if seed == 0:
            out["clipcrop-hf-init"] = Predictor(
                model=str(raw), decoder=str(_decoder_dir(root, raw, "dec-hf", "plain")), local_files_only=True)
    for tweak in ("plain", "wild", "nan"):
        out[f"clipcrop-{tweak}"] = Predictor(
            encoder=tiny.encoder, decoder=str(_decoder_dir(root, small_owlvit_dir, f"dec-{tweak}", tweak)))
    return out


def _fuzz(predictors: dict[str, Predictor], n: int, seed: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    names = sorted(predictors)
    for j, case in enumerate(_cases(n, seed)):
        name = names[j % len(names)]
        try:
            _run(predictors[name], case)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {case}: {exc}") from None
        counts[name] = counts.get(name, 0) + 1
    return counts


@dataclass(frozen=True)
class FileCase:
    file: int
    query: str | None
    exclude: tuple[str, ...]
    aspect: Any
    fit: str
    k: int
    focus: tuple
    size: None = None


def _upright(spec: tuple) -> tuple[int, int]:
    w, h, orientation, _ = spec
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[Path]:
    from image_files import write_photo

    root = tmp_path_factory.mktemp("fuzz-files")
    return [write_photo(root / f"f{i}{suffix}", w, h, seed=i, orientation=orientation)
            for i, (w, h, orientation, suffix) in enumerate(FILES)]


def _file_cases(n: int, seed: int) -> list[FileCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        i = int(rng.integers(len(FILES)))
        w, h = _upright(FILES[i])
        focus = ()
        if rng.random() < 0.5:
            x1, y1 = rng.random() * w * 0.8, rng.random() * h * 0.8
            focus = ((x1, y1, min(w, x1 + 1 + rng.random() * w * 0.3), min(h, y1 + 1 + rng.random() * h * 0.3)),)
        cases.append(FileCase(
            file=i, query=QUERIES[int(rng.integers(3))], exclude=EXCLUDES[int(rng.integers(len(EXCLUDES)))],
            aspect=RATIOS[int(rng.integers(len(RATIOS) - 1))], fit="pad" if rng.random() < 0.3 else "crop",
            k=int(rng.integers(1, 4)), focus=focus,
        ))
    return cases


def _run_file(predictor: Predictor, case: FileCase, path: Path) -> None:
    weights = predictor.model_id is not None
    pred = predictor.predict(
        str(path), case.query if weights else None, k=case.k, aspect=case.aspect, fit=case.fit,
        focus=list(case.focus), exclude=case.exclude if weights else (),
    )
    _check(pred, case, _upright(FILES[case.file]))  # type: ignore[arg-type]
    assert pred.exif_orientation == (FILES[case.file][2] or 1)


def test_fuzz_files_exclude_and_large_images(predictors, image_files):
    names = ["offline", "zeroshot-tiny", "clipcrop-plain", "clipcrop-wild", "clipcrop-nan"]
    counts: dict[str, int] = {}
    for j, case in enumerate(_file_cases(FILE_CASES, seed=2)):
        name = names[j % len(names)]
        try:
            _run_file(predictors[name], case, image_files[case.file])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {case}: {exc}") from None
        counts[name] = counts.get(name, 0) + 1
    assert sum(counts.values()) == FILE_CASES and set(counts) == set(names)


def test_fuzz_every_valid_call_gets_crops(predictors):
    counts = _fuzz(predictors, FAST_CASES, seed=0)
    assert sum(counts.values()) == FAST_CASES and len(counts) == len(predictors)


@pytest.mark.slow
def test_fuzz_long_run(predictors):
    counts = _fuzz(predictors, SLOW_CASES, seed=1)
    assert sum(counts.values()) == SLOW_CASES


@pytest.mark.parametrize("name", ["offline", "zeroshot-hf-init-0", "clipcrop-nan"])
def test_focus_outside_the_image_is_the_callers_error(predictors, name):
    with pytest.raises(RequestError) as info:
        predictors[name].predict(IMAGES[0], focus=[[500, 500, 600, 600]], aspect="1:1")
    assert "\n" not in str(info.value) and "500" in str(info.value)


def test_degenerate_groundings_are_repaired_and_recorded(predictors):
    pred = predictors["zeroshot-hf-init-0"].predict(IMAGES[0], query="a dog", k=2, aspect="1:1")
    assert pred.fallback and "grounded" in pred.fallback
    assert pred.to_dict()["fallback"] == pred.fallback
    for g in pred.grounding:  # reported boxes are the repaired ones: inside, with area
        x1, y1, x2, y2 = g.box
        assert 0 <= x1 < x2 <= 260 and 0 <= y1 < y2 <= 150


def test_a_decoder_that_outputs_nan_falls_back_to_the_composer(predictors):
    pred = predictors["clipcrop-nan"].predict(IMAGES[-1], query="a dog", k=2, aspect=["1:1", "16:9"])
    assert pred.mode == "clipcrop" and "decoder" in (pred.fallback or "")
    assert {c.ratio for c in pred} == {"1:1", "16:9"}
