"""The deadline: checked between a prediction's stages, so a call nobody waits for stops at the
next stage boundary."""

from __future__ import annotations

import time

import numpy as np
import pytest

from promptcrop import candidates as candidates_module
from promptcrop import predictor as predictor_module
from promptcrop.deadline import STAGES, Deadline, check_deadline
from promptcrop.errors import DeadlineExceeded, error_code
from promptcrop.predictor import Predictor


def _photo(w: int = 320, h: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = (rng.random((h, w, 3)) * 60 + 80).astype(np.uint8)
    img[40:100, 200:260] = (230, 30, 30)
    return img


@pytest.fixture(scope="module")
def offline() -> Predictor:
    return Predictor(model=None, mode="offline")


def test_a_deadline_expires_by_time_or_by_cancel_and_names_the_stage():
    assert not Deadline.after(60).expired and Deadline.after(60).remaining_s > 59
    assert Deadline.after(0).expired and Deadline.after(0).remaining_s == 0
    token = Deadline.after(60)
    token.cancel()
    with pytest.raises(DeadlineExceeded, match="before compose: cancelled") as stopped:
        token.check("compose")
    assert error_code(stopped.value) == "timeout"
    check_deadline(None, "decode")  # no deadline: never stops
    assert STAGES[0] == "decode" and STAGES[-1] == "encode output"


def test_a_call_past_its_deadline_stops_before_decoding(offline):
    with pytest.raises(DeadlineExceeded, match="before decode"):
        offline.predict(_photo(), deadline=Deadline.after(0))


def test_a_deadline_passing_during_a_stage_stops_the_call_at_the_next_one(offline, monkeypatch):
    real = candidates_module.compute_saliency

    def slow_saliency(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(candidates_module, "compute_saliency", slow_saliency)
    composed = []
    monkeypatch.setattr(predictor_module, "apply_request", lambda *a, **k: composed.append(1) or [])
    with pytest.raises(DeadlineExceeded, match="before compose"):
        offline.predict(_photo(), deadline=Deadline.after(0.1))
    assert composed == []


def test_a_call_within_its_deadline_is_the_same_as_without(offline):
    with_deadline = offline.predict(_photo(), aspect=["1:1", "16:9"], k=2, deadline=Deadline.after(60))
    without = offline.predict(_photo(), aspect=["1:1", "16:9"], k=2)
    assert [c.box for c in with_deadline] == [c.box for c in without]
