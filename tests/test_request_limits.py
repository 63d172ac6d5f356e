"""RequestLimits: every dimension of a request bounded, enforced by the Predictor for every caller
(each refusal names the field and the limit)."""

from __future__ import annotations

import numpy as np
import pytest

from promptcrop.errors import RequestError
from promptcrop.predictor import Predictor
from promptcrop.request import CropRequest, RequestLimits


def _photo(w: int = 320, h: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = (rng.random((h, w, 3)) * 60 + 80).astype(np.uint8)
    img[40:100, 200:260] = (230, 30, 30)
    return img


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"k": 21}, "k: 21 crops per ratio is above the limit of 20"),
        ({"aspect": "1:21"}, "aspect: ratio 1:21 is beyond the limit of 1:20 to 20:1"),
        ({"aspect": "20.5:1"}, "aspect: ratio 20.5:1 is beyond"),
        ({"aspect": [f"{i}:1" for i in range(1, 18)]}, "aspect: 17 ratios is above the limit of 16"),
        ({"size": "4000x4001"}, "size: the output canvas 4000x4001 has 16,004,000 pixels, above the limit of 16,000,000"),
        ({"size": "2100x100"}, "size: ratio 2100x100 is beyond"),
    ],
)
def test_the_predictor_refuses_requests_beyond_its_limits_naming_field_and_limit(kwargs, says):
    predictor = Predictor(model=None, mode="offline", max_pixels=16_000_000)
    with pytest.raises(RequestError) as refused:
        predictor.predict(_photo(), **kwargs)
    assert says in str(refused.value)


def test_query_and_exclude_bounds_hold_before_any_model_is_needed():
    limits = RequestLimits()
    with pytest.raises(RequestError, match="query: 1,001 characters is above the limit of 1,000"):
        Predictor(model=None, mode="offline").predict(_photo(), query="a" * 1001)
    with pytest.raises(RequestError, match="exclude: 9 phrases is above the limit of 8"):
        limits.check(CropRequest.build(exclude=[f"thing {i}" for i in range(9)]))
    limits.check(CropRequest.build(k=20, aspect=["1:20", "20:1"], exclude=["x"] * 8))  # at the limits: fine


def test_a_padded_canvas_above_max_pixels_is_refused_where_the_padding_is_made():
    tall = np.full((3000, 300, 3), 120, np.uint8)
    tall[1000:2000, 100:200] = (230, 30, 30)
    predictor = Predictor(model=None, mode="offline", max_pixels=4_000_000)
    with pytest.raises(RequestError, match=r"fit: the output canvas \d+x\d+ has [\d,]+ pixels, above the limit of 4,000,000"):
        predictor.predict(tall, aspect="20:1", fit="pad", k=1)
    crop = predictor.predict(tall, aspect="20:1", k=1)[0]  # without padding: a crop inside the photo
    assert not crop.padded and crop.width * crop.height <= 300 * 3000


def test_limits_are_configurable_and_validated():
    loose = Predictor(model=None, mode="offline", limits=RequestLimits(max_ratio=100, max_k=50))
    assert len(loose.predict(_photo(), aspect="1:50", k=30)) >= 1
    assert Predictor(model=None, max_pixels=1000).limits.max_pixels == 1000
    for bad in ({"max_ratio": 0.5}, {"max_k": 0}, {"max_pixels": True}):
        with pytest.raises(ValueError):
            RequestLimits(**bad)
