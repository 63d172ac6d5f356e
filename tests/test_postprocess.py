"""postprocess: the one path that applies a request to any candidate source, pinned for every mode.

The invariants hold for the offline mode, zero-shot and clipcrop on the tiny random OWL-ViT, and
clipcrop with a decoder whose outputs are NaN (it falls back to the composer):

- every crop has the requested ratio within 1 px;
- every focus box lies inside every crop that reports ``fits``;
- a padded canvas never exceeds ``max_pixels`` (or the request is refused when none can);
- avoid boxes and exclude phrases change the ranking where they should.

The first tests pin the box-level rules on hand-made proposals (no model).
"""

from __future__ import annotations

import numpy as np
import pytest

from promptcrop import boxes as B
from promptcrop.errors import RequestError
from promptcrop.postprocess import (
    AVOID_TOLERANCE,
    DEDUP_IOU,
    Proposal,
    apply_request,
    decoder_proposal,
    distinct_framings,
    largest_crop_size,
    letterbox_box,
    path_boxes,
    select,
)
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest, RequestLimits

W, H = 400, 300
MAX_PIXELS = 10**9


def _ratio_within_one_px(box, aspect: float) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    return abs(w - h * aspect) <= 1.0 or abs(h - w / aspect) <= 1.0


def _select(boxes, scores, aspect, *, focus=None, avoid=(), fit="crop", k=3, max_pixels=MAX_PIXELS):
    proposal = Proposal(boxes=np.asarray(boxes, float), scores=np.asarray(scores, float))
    return select(proposal, aspect, focus=None if focus is None else np.asarray(focus, float),
                  avoid=np.asarray(avoid, float).reshape(-1, 4), fit=fit, k=k, image_size=(W, H),
                  limits=RequestLimits(max_pixels=max_pixels))


# ---------------------------------------------------------------------- the rules, on plain boxes


def test_a_box_is_fitted_to_the_ratio_around_itself_and_the_focus():
    chosen = _select([[250, 100, 330, 180]], [0.9], 16 / 9, focus=[40, 40, 90, 90])
    box = chosen.boxes[0]
    assert chosen.fits[0] and not chosen.padded[0]
    assert (box[2] - box[0]) / (box[3] - box[1]) == pytest.approx(16 / 9)
    assert bool(B.contains(box, np.array([40, 40, 90, 90.0]))) and bool(B.contains(box, np.array([250, 100, 330, 180.0])))
    assert bool(B.contains(np.array([0, 0, W, H], float), box, tol=1e-6))


def test_a_focus_that_fits_is_kept_even_when_the_candidate_cannot_be():
    # a tall candidate at 3:1 cannot be kept whole; the focus (small) still is, and fits says False
    chosen = _select([[180, 0, 220, 300]], [0.5], 3.0, focus=[150, 200, 200, 250])
    box = chosen.boxes[0]
    assert not chosen.fits[0] and not chosen.padded[0]
    assert bool(B.contains(box, np.array([150, 200, 200, 250.0]), tol=1e-6))
    assert (box[2] - box[0]) / (box[3] - box[1]) == pytest.approx(3.0)


def test_pad_letterboxes_what_cannot_fit_and_respects_max_pixels():
    chosen = _select([[100, 0, 300, 300]], [0.5], 1 / 4, fit="pad")
    box = chosen.boxes[0]
    assert chosen.padded[0] and chosen.fits[0]
    assert box[1] < 0 and box[3] > H and (box[2] - box[0]) / (box[3] - box[1]) == pytest.approx(0.25)
    np.testing.assert_allclose(letterbox_box(np.array([100, 0, 300, 300.0]), 0.25, W, H), box)
    with pytest.raises(RequestError, match="above the limit of 100,000"):
        _select([[100, 0, 300, 300]], [0.5], 1 / 4, fit="pad", max_pixels=100_000)  # needs 200 x 800


def test_avoid_boxes_rank_below_and_lower_the_score():
    boxes = [[0, 0, 200, 150], [200, 150, 400, 300]]
    plain = _select(boxes, [0.9, 0.6], 4 / 3, k=2)
    assert plain.index.tolist() == [0, 1]
    avoided = _select(boxes, [0.9, 0.6], 4 / 3, avoid=[[20, 20, 60, 60]], k=2)
    assert avoided.index.tolist() == [1, 0]  # the crop holding the avoid box comes last
    assert avoided.scores[1] == pytest.approx(0.9 * (1 - 1.0)) and avoided.scores[0] == pytest.approx(0.6)


def test_one_dedup_rule_keeps_distinct_framings():
    boxes = np.array([[0, 0, 200, 150], [5, 5, 205, 155], [0, 0, 100, 75], [200, 150, 400, 300]], float)
    order = np.arange(4)
    picked = distinct_framings(boxes, order, max_iou=DEDUP_IOU, k=4)
    assert 1 not in picked  # a near-duplicate of the best one
    assert picked.tolist() == [0, 2, 3]
    ious = B.box_iou(boxes[picked], boxes[picked])
    assert (ious[~np.eye(len(picked), dtype=bool)] < DEDUP_IOU).all()


def test_a_free_ratio_box_grows_to_hold_the_focus():
    source = decoder_proposal(np.array([[200, 100, 260, 160.0]]), np.array([0.7]))
    (proposal,) = source([None])
    chosen = select(proposal, None, focus=np.array([50, 50, 80, 80.0]), avoid=np.zeros((0, 4)), fit="crop", k=1,
                    image_size=(W, H), limits=RequestLimits(max_pixels=MAX_PIXELS))
    np.testing.assert_allclose(chosen.boxes[0], [50, 50, 260, 160])


@pytest.mark.parametrize("size", [(640, 360), (360, 640), (451, 300), (1921, 1081)])
@pytest.mark.parametrize("ratio", ["9:16", "1:1", "4:5", "16:9", "3:1"])
def test_the_largest_crop_size_is_what_a_photo_request_gives_and_spans_the_frame(size, ratio):
    width, height = size
    aspect = B.parse_aspect_ratio(ratio)
    w, h = largest_crop_size(size, aspect)
    assert (w == width or h == height) and w <= width and h <= height
    assert min(abs(w - h * aspect), abs(h - w / aspect)) <= 0.5 + 1e-9  # half a pixel of the shorter side
    source = decoder_proposal(np.array([[0, 0, width, height]], dtype=float), np.array([1.0]))
    crop = apply_request(source, CropRequest.build(k=1, aspect=[ratio]), image_size=size,
                         image_rgb=np.zeros((8, 8, 3), np.uint8), mode="clipcrop",
                         limits=RequestLimits(max_pixels=MAX_PIXELS))[0]
    assert (crop.box[2] - crop.box[0], crop.box[3] - crop.box[1]) == (w, h)


def test_a_camera_path_gets_one_crop_size_inside_the_frame_by_the_photo_rule():
    rng = np.random.default_rng(0)
    size = (640, 360)
    w, h = largest_crop_size(size, 9 / 16)
    centres = np.stack([rng.uniform(-50, 700, 200), np.full(200, 180.0)], axis=1)  # some off the frame
    boxes = np.concatenate([centres - [w / 2, h / 2], centres + [w / 2, h / 2]], axis=1)
    out = path_boxes(boxes, w / h, size)
    assert out.dtype == np.int64 and out.shape == (200, 4)
    assert ((out[:, 2] - out[:, 0]) == w).all() and ((out[:, 3] - out[:, 1]) == h).all()
    assert (out[:, :2] >= 0).all() and (out[:, 2] <= size[0]).all() and (out[:, 3] <= size[1]).all()
    inside = np.clip(centres[:, 0], w / 2, size[0] - w / 2)  # the nearest centre the frame allows
    assert np.abs((out[:, 0] + out[:, 2]) / 2 - inside).max() <= 1.0
    within = (boxes[:, 0] >= 0) & (boxes[:, 2] <= size[0]) & (boxes[:, 1] >= 0) & (boxes[:, 3] <= size[1])
    assert within.sum() >= 20
    for box, row in zip(boxes[within], out[within]):  # the same rounding as one photo crop
        np.testing.assert_array_equal(B.snap_to_pixels(box, *size, w / h), row)


# ---------------------------------------------------------------------- every mode


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    import skimage.data

    return skimage.data.chelsea()  # 451 x 300


def _decoder(root, owl, name: str, nan: bool):
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder

    torch.manual_seed(0)
    decoder = ClipCropDecoder(get_preset("tiny").decoder)
    with torch.no_grad():
        if nan:  # nothing usable: the composer around the anchor box takes over
            decoder.box_head[-1].weight.fill_(float("nan"))
        else:  # untrained offsets made non-zero, so the boxes differ from the anchor
            for p in decoder.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    out = root / name
    save_decoder(decoder, out, encoder_info=EncoderInfo.from_encoder(OwlViTEncoder.from_pretrained(str(owl))),
                 preset="tiny")
    return out


@pytest.fixture(scope="module")
def predictors(tmp_path_factory, small_owlvit_dir) -> dict[str, Predictor]:
    root = tmp_path_factory.mktemp("postprocess")
    zeroshot = Predictor(model=str(small_owlvit_dir), local_files_only=True)  # 256 px: fast forwards
    return {
        "offline": Predictor(model=None),
        "zeroshot": zeroshot,
        "clipcrop": Predictor(encoder=zeroshot.encoder, decoder=str(_decoder(root, small_owlvit_dir, "dec", False))),
        "clipcrop-fallback": Predictor(encoder=zeroshot.encoder,
                                       decoder=str(_decoder(root, small_owlvit_dir, "dec-nan", True))),
    }


MODES = ("offline", "zeroshot", "clipcrop", "clipcrop-fallback")
FOCUS = (20, 20, 120, 120)


def _query(name: str) -> str | None:
    return None if name == "offline" else "the cat"


def test_the_reported_reproduction_clipcrop_keeps_the_focus_and_pads(predictors, chelsea):
    clipcrop = predictors["clipcrop"]
    pred = clipcrop.predict(chelsea, query="the cat", aspect=["1:1", "16:9"], focus=[FOCUS])
    assert pred.mode == "clipcrop" and "decoder" not in (pred.fallback or "")  # the decoder's own boxes
    assert {c.ratio for c in pred} == {"1:1", "16:9"}
    for crop in pred:  # the focus box fits at both ratios, so every crop holds it
        assert bool(B.contains(np.array(crop.box, float), np.array(FOCUS, float))), crop
    padded = clipcrop.predict(chelsea, query="the cat", aspect=["1:4"], fit="pad")
    assert padded.mode == "clipcrop" and len(padded) >= 1
    for crop in padded:
        assert crop.padded and crop.pad_color is not None and crop.fits
        assert crop.box[1] < 0 and crop.box[3] > chelsea.shape[0]
        assert _ratio_within_one_px(crop.box, 0.25)


@pytest.mark.parametrize("name", MODES)
@pytest.mark.parametrize("focus", [[FOCUS], [(20, 20, 120, 120), (380, 200, 440, 290)], []])
def test_every_crop_has_the_ratio_and_holds_the_focus_when_it_fits(predictors, chelsea, name, focus):
    aspect = ["1:1", "16:9", "3:1", "1:3", "4:5"]
    pred = predictors[name].predict(chelsea, _query(name), k=3, aspect=aspect, focus=focus)
    assert pred.mode == ("offline" if name == "offline" else name.split("-")[0])
    assert {c.ratio for c in pred} == set(aspect)
    for crop in pred:
        assert _ratio_within_one_px(crop.box, B.parse_aspect_ratio(crop.ratio)), crop
        x1, y1, x2, y2 = crop.box
        assert 0 <= x1 < x2 <= 451 and 0 <= y1 < y2 <= 300
        if crop.fits:
            for box in focus:
                assert bool(B.contains(np.array(crop.box, float), np.array(box, float))), (crop, box)
    if name == "clipcrop-fallback":
        assert "decoder" in (pred.fallback or "")


@pytest.mark.parametrize("name", MODES)
def test_pad_holds_the_focus_and_a_padded_canvas_never_exceeds_max_pixels(predictors, chelsea, name):
    small = chelsea[::2, ::2]  # 226 x 150 = 33,900 pixels
    focus = [(60, 0, 160, 150)]  # 100 px wide, the full height: a 1:4 letterbox needs at least 100 x 400
    pred = predictors[name].predict(small, _query(name), k=3, aspect="1:4", fit="pad", focus=focus)
    assert any(c.padded for c in pred)
    for crop in pred:
        assert crop.fits and bool(B.contains(np.array(crop.box, float), np.array(focus[0], float)))
        assert _ratio_within_one_px(crop.box, 0.25)
    # the smallest canvas made without a limit is allowed; every crop made under it stays below it
    limit = min(c.width * c.height for c in pred)
    capped = _with_max_pixels(predictors[name], limit).predict(small, _query(name), k=3, aspect="1:4", fit="pad",
                                                              focus=focus)
    assert capped and all(c.width * c.height <= limit for c in capped)
    with pytest.raises(RequestError, match="above the limit of 39,999"):  # no 1:4 letterbox holds it
        _with_max_pixels(predictors[name], 39_999).predict(small, _query(name), k=3, aspect="1:4", fit="pad",
                                                          focus=focus)


def _with_max_pixels(predictor: Predictor, max_pixels: int) -> Predictor:
    if predictor.model_id is None:
        return Predictor(model=None, max_pixels=max_pixels)
    return Predictor(encoder=predictor.encoder, decoder=predictor.decoder_id, max_pixels=max_pixels)


@pytest.mark.parametrize("name", MODES)
def test_avoid_pushes_the_crops_holding_it_down(predictors, chelsea, name):
    predictor = predictors[name]
    plain = predictor.predict(chelsea, _query(name), k=3, aspect="1:1")
    top = np.array(plain[0].box, float)
    # an avoid box in a corner of the plain top crop: the crops holding it must pay for it
    x1, y1, x2, y2 = top
    avoid = np.array([[x1, y1, x1 + (x2 - x1) / 4, y1 + (y2 - y1) / 4]])
    avoided = predictor.predict(chelsea, _query(name), k=3, aspect="1:1", avoid=avoid)
    held = [float(B.box_coverage(np.array([c.box], float), avoid).max()) for c in avoided]
    assert [(c.box, c.score) for c in avoided] != [(c.box, c.score) for c in plain]
    assert held[0] <= float(B.box_coverage(top[None], avoid).max())
    # Crops are reported in whole pixels: the share measured on them may differ from the one the
    # crop paid for by up to a pixel along each side of the avoid box.
    rounding = 2.0 / float(min(avoid[0, 2] - avoid[0, 0], avoid[0, 3] - avoid[0, 1]))
    for crop, share in zip(avoided, held):  # a crop holding the avoid box pays for the share it holds
        base = {c.box: c.score for c in plain}.get(crop.box)
        if base is not None and share > 0:
            assert crop.score <= base * (1 - share + rounding) + 1e-9
    order = [(not c.fits, share > AVOID_TOLERANCE) for c, share in zip(avoided, held)]
    assert order == sorted(order)  # crops that fit, then crops free of it, come first


@pytest.mark.parametrize("name", ["zeroshot", "clipcrop", "clipcrop-fallback"])
def test_exclude_is_grounded_into_avoid_boxes_in_every_model_mode(predictors, chelsea, name):
    predictor = predictors[name]
    encoder = predictor.encoder
    encoding = encoder.encode_images(encoder.preprocess([chelsea]))
    phrases = ("the cat's ear", "the background")
    grounded = predictor._exclude_boxes(encoding, phrases, 451, 300)
    assert len(grounded) >= 1
    excluded = predictor.predict(chelsea, "the cat", k=3, aspect=["1:1", "16:9"], exclude=list(phrases))
    as_avoid = predictor.predict(chelsea, "the cat", k=3, aspect=["1:1", "16:9"], avoid=grounded)
    assert [(c.box, c.score) for c in excluded] == [(c.box, c.score) for c in as_avoid]
    plain = predictor.predict(chelsea, "the cat", k=3, aspect=["1:1", "16:9"])
    held = float(B.box_coverage(np.array([c.box for c in plain], float), grounded).max())
    assert held > 0  # a plain crop holds an excluded region, so exclude must change the answer:
    assert [(c.box, c.score) for c in excluded] != [(c.box, c.score) for c in plain]
