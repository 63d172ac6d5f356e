"""Predictor: the three modes, mode selection, caching, batching, EXIF and output geometry.

Runs on tiny random OWL-ViT weights (built offline by the conftest fixture) and a tiny random
decoder checkpoint: crops are meaningless as pictures but every code path and contract is real.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from approx import assert_records_close
from optional import missing, require, require_face_detector
from promptcrop import boxes as B
from promptcrop.errors import ModelUnavailableError, PromptcropError, RequestError
from promptcrop.options import PredictorOptions
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest, parse_size


def _scene(w: int = 320, h: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = (rng.random((h, w, 3)) * 60 + 80).astype(np.uint8)
    img[40:100, 200:260] = (230, 30, 30)  # a red square off-centre
    return img


@pytest.fixture(scope="module")
def tiny_decoder_dir(tmp_path_factory, tiny_owlvit_dir):
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder

    torch.manual_seed(0)
    enc = OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir))
    decoder = ClipCropDecoder(get_preset("tiny").decoder)
    with torch.no_grad():  # make the untrained offsets non-zero so boxes differ from b_u
        for p in decoder.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    out = tmp_path_factory.mktemp("dec") / "decoder"
    save_decoder(decoder, out, encoder_info=EncoderInfo.from_encoder(enc), preset="tiny")
    return out


@pytest.fixture(scope="module")
def zeroshot(tiny_owlvit_dir):
    return Predictor(model=str(tiny_owlvit_dir), local_files_only=True)


def _check_geometry(pred, aspects, k, size):
    W, H = size
    assert pred.image_size == (W, H)
    for aspect in aspects:
        crops = [c for c in pred if c.aspect == pytest.approx(aspect)]
        assert 1 <= len(crops) <= k
        assert [c.rank for c in crops] == list(range(1, len(crops) + 1))
        assert all(a.score >= b.score for a, b in zip(crops, crops[1:]))
        for c in crops:
            x1, y1, x2, y2 = c.box
            assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
            assert abs(c.width - c.height * aspect) <= max(1.0, aspect)
            assert 0.0 <= c.score <= 1.0


def test_offline_mode_needs_no_weights(no_network):
    img = _scene()
    pred = Predictor(model=None).predict(img, k=3, aspect=["1:1", "16:9", "4:5"])
    assert pred.mode == "offline" and all(c.mode == "offline" for c in pred)
    _check_geometry(pred, [1.0, 16 / 9, 0.8], 3, (320, 200))
    assert pred.region is not None and pred.grounding == []


def test_auto_falls_back_to_offline_without_weights_and_refuses_a_query(tmp_path):
    p = Predictor(model=str(tmp_path / "no-such-model"), local_files_only=True)
    assert p.predict(_scene(), k=1).mode == "offline"
    with pytest.raises(ModelUnavailableError, match="offline"):
        p.predict(_scene(), query="the red square")
    with pytest.raises(PromptcropError):
        Predictor(model=None, mode="offline").predict(_scene(), query="a dog")


def test_zeroshot_mode_grounds_the_query_and_keeps_the_region(zeroshot):
    pred = zeroshot.predict(_scene(), query="the red square and a tree", k=2, aspect="1:1")
    assert pred.mode == "zeroshot"
    assert pred.phrases[0] == "the red square and a tree"
    assert [g.phrase for g in pred.grounding] == list(pred.phrases)
    _check_geometry(pred, [1.0], 2, (320, 200))
    best = pred[0]
    if best.fits:
        assert B.contains(np.array(best.box, float), np.array(pred.region), tol=1.0)


def test_unconditioned_zeroshot_uses_generic_detections_or_saliency(zeroshot):
    pred = zeroshot.predict(_scene(), k=2)
    assert pred.mode == "zeroshot" and pred.query is None
    _check_geometry(pred, [320 / 200], 2, (320, 200))


def test_repeated_query_does_not_run_the_text_encoder_again(tiny_owlvit_dir):
    p = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    calls = []
    real = p.encoder.embed_texts

    def counting(texts):
        calls.append(list(texts))
        return real(texts)

    p.encoder.embed_texts = counting
    p.predict(_scene(), query="a red square", k=1)
    n = len(calls)
    assert n == 1
    p.predict(_scene(seed=1), query="a red square", k=1)
    assert len(calls) == n


def test_clipcrop_mode_with_a_decoder_checkpoint(tiny_owlvit_dir, tiny_decoder_dir):
    p = Predictor(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_dir), local_files_only=True)
    pred = p.predict(_scene(), query="the red square", k=4)
    assert pred.mode == "clipcrop" and all(c.mode == "clipcrop" for c in pred)
    assert 1 <= len(pred) <= 4
    for c in pred:
        x1, y1, x2, y2 = c.box
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 200 and 0 <= c.score <= 1
    pred = p.predict(_scene(), query="the red square", k=2, aspect="4:5")
    _check_geometry(pred, [0.8], 2, (320, 200))
    base = p.predict(_scene(), k=2)  # ClipCrop-base: no condition
    assert base.mode == "clipcrop" and len(base) >= 1


def test_batch_equals_one_by_one(zeroshot):
    imgs = [_scene(seed=0), _scene(w=240, h=300, seed=1)]
    batch = zeroshot.predict_batch(imgs, ["a red square", None], k=2, aspect="1:1")
    single = [zeroshot.predict(imgs[0], "a red square", k=2, aspect="1:1"),
              zeroshot.predict(imgs[1], None, k=2, aspect="1:1")]
    for b, s in zip(batch, single):
        assert [c.box for c in b] == [c.box for c in s]
        assert [c.score for c in b] == pytest.approx([c.score for c in s], abs=1e-5)


def test_exif_rotated_file_gives_the_same_pixels_as_the_upright_copy(tmp_path):
    upright = _scene(w=300, h=180)
    rotated = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    rotated.save(buf, format="PNG", exif=exif)
    p = Predictor(model=None)
    a = p.predict(buf.getvalue(), k=2, aspect="1:1")
    b = p.predict(upright, k=2, aspect="1:1")
    assert a.image_size == (300, 180)
    assert [c.box for c in a] == [c.box for c in b]
    np.testing.assert_array_equal(np.asarray(a[0].apply(upright)), np.asarray(b[0].apply(upright)))


def test_exact_size_and_pad(no_network):
    p = Predictor(model=None)
    pred = p.predict(_scene(), k=1, size="120x60")
    crop = pred[0].apply(_scene())
    assert crop.size == (120, 60)
    tall = p.predict(_scene(), k=1, aspect="1:4", fit="pad")
    c = tall[0]
    assert abs(c.width - c.height * 0.25) <= 1
    assert c.apply(_scene()).size == (c.width, c.height)


def test_query_image_condition(zeroshot):
    query = _scene(w=64, h=64, seed=3)
    pred = zeroshot.predict(_scene(), query_image=query, k=1)
    assert pred.mode == "zeroshot" and pred.phrases == ("<query image>",)
    with pytest.raises(ValueError):
        zeroshot.predict(_scene(), query="x", query_image=query)


@pytest.mark.parametrize(
    "kwargs",
    [dict(mode="fast"), dict(mode="clipcrop"), dict(query_parts="all"), dict(dedup_iou=0),
     dict(device="tpu")],
)
def test_invalid_predictor_arguments(kwargs):
    with pytest.raises(ValueError):
        Predictor(model=None, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [dict(k=0), dict(aspect="0:1"), dict(aspect=[]), dict(size="0x10"), dict(fit="stretch"),
     dict(size="10x10", aspect="1:1"), dict(focus=[[10, 10, 5, 20]])],
)
def test_invalid_requests(kwargs):
    with pytest.raises(ValueError):
        CropRequest.build(**kwargs)


def test_parse_size():
    assert parse_size("1080x1350") == (1080, 1350)
    with pytest.raises(ValueError):
        parse_size("big")


def test_empty_query_is_an_error():
    with pytest.raises(ValueError):
        Predictor(model=None).predict(_scene(), query="   ")


def test_predictors_can_share_one_encoder(zeroshot, tiny_decoder_dir):
    other = Predictor(encoder=zeroshot.encoder, decoder=str(tiny_decoder_dir), query_parts="text")
    assert other.loaded_encoder is zeroshot.encoder
    pred = other.predict(_scene(), query="the red square", k=1)
    assert pred.mode == "clipcrop" and pred.phrases == ("the red square",)


def _skimage_photo(name: str) -> np.ndarray:
    """A photo from scikit-image's data folder (no download); the test is skipped without it."""
    from pathlib import Path

    skimage_data = require("skimage.data")
    path = Path(skimage_data.__file__).parent / name
    if not path.is_file():
        missing(f"{path} is not installed")
    return np.asarray(Image.open(path).convert("RGB"))


def test_offline_crops_keep_the_astronauts_face_and_the_cats_eyes(no_network):
    # boxes read off the images: the astronaut's face with its hair (512x512), chelsea's two eyes
    face = np.array([150.0, 40.0, 290.0, 170.0])
    eyes = np.array([135.0, 85.0, 342.0, 160.0])
    predictor = Predictor(model=None)
    astronaut = predictor.predict(_skimage_photo("astronaut.png"), k=1, aspect=["16:9", "1:1"])
    assert len(list(astronaut)) == 2
    for crop in astronaut:  # the 16:9 crop cannot hold the whole figure: it keeps the head
        assert bool(B.contains(np.array(crop.box, float), face)), (crop.aspect, crop.box)
    chelsea = predictor.predict(_skimage_photo("chelsea.png"), k=1, aspect="16:9")
    assert bool(B.contains(np.array(next(iter(chelsea)).box, float), eyes))


def test_an_offline_prediction_holds_the_faces_its_crops_keep_whole(no_network):
    require_face_detector()
    face = np.array([150.0, 40.0, 290.0, 170.0])  # the astronaut's face with its hair, read off the image
    pred = Predictor(model=None).predict(_skimage_photo("astronaut.png"), k=1, aspect="9:16")
    assert len(pred.faces) == 1 and B.elementwise_iou(np.array(pred.faces), face[None])[0] > 0.5
    assert Predictor(model=None).predict(_scene(), k=1).faces == ()  # shapes, no face


# ---------------------------------------------------------------------- one surface for every front end


def test_a_cache_smaller_than_one_calls_phrases_still_embeds_every_phrase(tiny_owlvit_dir):
    small = Predictor(model=str(tiny_owlvit_dir), local_files_only=True, text_cache_size=2, query_parts="both")
    big = Predictor(encoder=small.encoder, query_parts="both")
    query = "the red square, the blue circle and the green dog beside a tree"
    a, b = small.predict(_scene(), query=query, k=1), big.predict(_scene(), query=query, k=1)
    assert len(a.phrases) > 2 and a.phrases == b.phrases
    assert [c.box for c in a] == [c.box for c in b]
    assert len(small._cache) == 2


def test_eight_threads_on_one_predictor_get_the_sequential_results(tiny_owlvit_dir):
    from concurrent.futures import ThreadPoolExecutor

    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    calls = [dict(image=_scene(seed=i % 4), query=q, aspect=a, k=2)
             for i, (q, a) in enumerate([("the red square", "1:1"), ("a dog", "16:9"), (None, "4:5"),
                                         ("the red square and a cat", ["1:1", "16:9"])] * 4)]
    fresh = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    expected = [fresh.predict(**c).to_dict() for c in calls]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda c: predictor.predict(**c).to_dict(), calls))
    for e, g in zip(expected, got):
        assert_records_close(e, g)  # logits move by ~1e-7 under CPU load


def test_load_is_eager_once_and_thread_safe(tiny_owlvit_dir, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from promptcrop.model.encoder import OwlViTEncoder

    calls, lock = [], threading.Lock()
    real = OwlViTEncoder.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        with lock:
            calls.append(args)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(OwlViTEncoder, "from_pretrained", classmethod(counting))
    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: predictor.load(), range(8)))
    assert len(calls) == 1 and predictor.loaded_encoder is not None
    assert Predictor(model=None).load().loaded_encoder is None  # offline: nothing to load


def test_predict_batch_takes_one_request_per_image():
    predictor = Predictor(model=None)
    requests = [CropRequest.build(aspect="1:1", k=1), CropRequest.build(aspect=["16:9", "4:5"], k=2)]
    preds = predictor.predict_batch([_scene(), _scene(seed=1)], request=requests)
    assert {c.ratio for c in preds[0]} == {"1:1"} and {c.ratio for c in preds[1]} == {"16:9", "4:5"}
    assert preds[1].to_dict() == predictor.predict(_scene(seed=1), aspect=["16:9", "4:5"], k=2).to_dict() | {
        "timings": preds[1].to_dict()["timings"]}
    with pytest.raises(ValueError, match="requests"):
        predictor.predict_batch([_scene()], request=requests)


def test_a_query_image_is_embedded_once(zeroshot, monkeypatch):
    query = _scene(96, 96, seed=5)
    encoder = zeroshot.encoder
    counted = []
    real = encoder.embed_image_queries
    monkeypatch.setattr(encoder, "embed_image_queries", lambda px: counted.append(1) or real(px))
    first = zeroshot.predict(_scene(), query_image=query, k=1)
    second = zeroshot.predict(_scene(seed=2), query_image=query.copy(), k=1)
    assert len(counted) == 1 and first.phrases == second.phrases == ("<query image>",)


class _PlainEncoder:
    """Any object with the Encoder members works: no torch module, no ``.to``."""

    def __init__(self, inner):
        self._inner = inner
        for name in ("model_id", "image_size", "grid_hw", "token_dim", "embed_dim"):
            setattr(self, name, getattr(inner, name))

    def __getattr__(self, name):
        if name in ("preprocess", "encode_images", "embed_texts", "embed_image_queries", "query_logits"):
            return getattr(self._inner, name)
        raise AttributeError(name)


def test_any_encoder_backend_plugs_in(zeroshot):
    from promptcrop.backends.base import Encoder

    plain = _PlainEncoder(zeroshot.encoder)
    assert isinstance(plain, Encoder) and not hasattr(plain, "to")
    other = Predictor(encoder=plain)
    a = other.predict(_scene(), query="the red square", k=2, aspect="1:1").to_dict()
    b = zeroshot.predict(_scene(), query="the red square", k=2, aspect="1:1").to_dict()
    assert_records_close(a, b)


def test_from_options_holds_the_offline_rule(tiny_owlvit_dir, tiny_decoder_dir):
    weight_free = Predictor.from_options(PredictorOptions(model=str(tiny_owlvit_dir), offline=True), conditioned=False)
    assert weight_free.mode == "offline" and weight_free.model_id is None
    cached = Predictor.from_options(PredictorOptions(model=str(tiny_owlvit_dir), offline=True), conditioned=True)
    assert cached.local_files_only and cached.loaded_encoder is not None  # loaded eagerly
    with pytest.raises(ModelUnavailableError, match="query needs the OWL-ViT weights"):
        Predictor.from_options(PredictorOptions(model=str(tiny_owlvit_dir) + "-missing", offline=True),
                               conditioned=True)
    decoded = Predictor.from_options(
        PredictorOptions(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_dir), offline=True))
    assert decoded.mode == "auto" and decoded.resolve_mode(False) == "clipcrop"


def test_the_offline_path_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from promptcrop import Predictor\n"
            "img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)\n"
            "p = Predictor(model=None).predict(img, aspect=['1:1', '16:9'], k=2)\n"
            "assert len(p) >= 2, p\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_decoder_checkpoint_chooses_the_query_parts_by_default(tmp_path, zeroshot):
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder

    torch.manual_seed(0)
    out = tmp_path / "keywords-decoder"
    save_decoder(ClipCropDecoder(get_preset("tiny").decoder), out,
                 encoder_info=EncoderInfo.from_encoder(zeroshot.encoder), preset="tiny", query_parts="keywords")
    default = Predictor(encoder=zeroshot.encoder, decoder=str(out))
    assert default.query_parts == "keywords"
    pred = default.predict(_scene(), query="the red square beside a blue circle", k=1)
    assert "the red square beside a blue circle" not in pred.phrases  # keywords only
    assert Predictor(encoder=zeroshot.encoder, decoder=str(out), query_parts="both").query_parts == "both"
    assert Predictor(encoder=zeroshot.encoder).query_parts == "both"


def test_an_exact_output_size_is_capped_like_an_image():
    predictor = Predictor(model=None, max_pixels=64_000)  # the 320 x 200 scene is 64,000 pixels
    assert predictor.predict(_scene(), size="320x200", k=1)[0].output_size == (320, 200)
    with pytest.raises(ValueError, match="above the limit of 64,000"):
        predictor.predict(_scene(), size="321x200", k=1)


# --------------------------------------------------------------------------- exclude, reduced decode


def test_exclude_is_grounded_into_avoid_regions(zeroshot, tiny_owlvit_dir):
    img = _scene()
    enc = zeroshot.encoder
    pixels = enc.preprocess([img])
    encoding = enc.encode_images(pixels)
    avoid = zeroshot._exclude_boxes(encoding, ("the watermark", "the man on the left"), 320, 200)
    assert avoid.shape == (2, 4)
    assert (avoid[:, 2] > avoid[:, 0]).all() and (avoid[:, :2] >= 0).all() and (avoid[:, 2] <= 320).all()
    plain = zeroshot.predict(img, k=3, aspect="1:1")
    excluded = zeroshot.predict(img, k=3, aspect="1:1", exclude=["the watermark", "the man on the left"])
    same_as_avoid = zeroshot.predict(img, k=3, aspect="1:1", avoid=avoid)
    assert [c.box for c in excluded] == [c.box for c in same_as_avoid]  # exclude = grounded avoid
    assert excluded.mode == "zeroshot"
    held = [B.box_coverage(np.array([c.box], float), avoid).max() for c in (plain[0], excluded[0])]
    assert held[1] <= held[0] + 1e-9  # the top crop holds no more of the excluded regions
    with_query = zeroshot.predict(img, "the red square", k=2, aspect="1:1", exclude="the tree")
    assert with_query.mode == "zeroshot" and len(with_query.crops) >= 1


def test_exclude_in_clipcrop_ranks_crops_by_what_they_leave_out(tiny_owlvit_dir, tiny_decoder_dir):
    p = Predictor(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_dir), local_files_only=True)
    pred = p.predict(_scene(), "the red square", k=3, aspect="1:1", exclude=["the tree"])
    assert pred.mode == "clipcrop" and 1 <= len(pred.crops) <= 3
    assert all(0.0 <= c.score <= 1.0 for c in pred.crops)


def test_exclude_without_weights_is_one_clear_error():
    with pytest.raises(ModelUnavailableError, match="exclude needs the OWL-ViT weights"):
        Predictor(model=None).predict(_scene(), k=1, exclude="the watermark")
    with pytest.raises(RequestError, match="exclude must be non-empty texts"):
        CropRequest.build(exclude=["the flag", " "])
    request = CropRequest.build(exclude="  the flag ")
    assert request.exclude == ("the flag",) and request.to_json()["exclude"] == ["the flag"]
    assert request.with_aspects(["1:1"]).exclude == ("the flag",)


def test_offline_mode_analyses_a_reduced_decode_of_a_large_jpeg(tmp_path, no_network):
    from PIL import Image

    big = Image.fromarray(_scene()).resize((6000, 3750), Image.Resampling.BILINEAR)
    path = tmp_path / "big.jpg"
    big.save(path, quality=85)
    pred = Predictor(model=None).predict(str(path), k=2, aspect=["1:1", "16:9"])
    assert pred.image_size == (6000, 3750)
    _check_geometry(pred, [1.0, 16 / 9], 2, (6000, 3750))
    small = Predictor(model=None).predict(_scene(), k=1, aspect="1:1")
    # the same scene at 18.75x: the crop lands at the same place (within the map's resolution)
    scaled = np.array(small[0].box, float) * 18.75
    assert B.box_iou(np.array([pred[0].box], float), scaled[None])[0, 0] > 0.8


def test_offline_crops_leave_a_corner_watermark_out_when_they_can(no_network):
    from PIL import Image, ImageDraw, ImageFont

    photo = Image.fromarray(_skimage_photo("astronaut.png")).convert("RGBA")
    layer = Image.new("RGBA", photo.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=14)
    x1, y1, x2, y2 = draw.textbbox((0, 0), "stockphoto", font=font)
    # bottom left, lower than the strip a 4:5 crop holding the figure can leave out (the figure's
    # box reaches the top-left corner: a mark there cannot be left out without cutting her)
    at = (10, photo.height - y2 - 10)
    draw.text(at, "stockphoto", font=font, fill=(255, 255, 255, 255))
    marked = np.asarray(Image.alpha_composite(photo, layer).convert("RGB"))
    text = np.array([at[0] + x1, at[1] + y1, at[0] + x2, at[1] + y2], dtype=float)
    pred = Predictor(model=None).predict(marked, k=1, aspect=["4:5", "3:4"])
    assert B.box_coverage(np.array([pred.region], float), text[None])[0, 0] == 0.0
    for crop in pred:  # both ratios can keep the figure without the mark
        assert B.box_coverage(np.array([crop.box], float), text[None])[0, 0] < 0.05, (crop.aspect, crop.box)


def test_a_motion_map_moves_the_offline_region_and_needs_one_entry_per_image(no_network):
    pred = Predictor(model=None, mode="offline")
    rng = np.random.default_rng(0)
    image = np.clip(120 + rng.normal(0, 8, (180, 320, 3)), 0, 255).astype(np.uint8)  # plain, no subject
    motion = np.zeros((90, 160), np.float32)
    motion[40:50, 130:145] = 40.0  # a small thing moving at the right
    still, moving = pred.predict_batch([image, image], motion=[None, motion], k=1, aspect="9:16")
    centre = lambda p: (p.region[0] + p.region[2]) / 2  # noqa: E731
    assert centre(moving) > 240 and centre(moving) > centre(still) + 40
    with pytest.raises(ValueError, match="one map"):
        pred.predict_batch([image, image], motion=[motion], k=1)
