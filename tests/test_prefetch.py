"""Ordered read-ahead: loads run ahead in threads, results come back in item order, one worker
keeps a shared random generator's draws in order, and leaving early stops the pool."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from promptcrop.batch.prefetch import prefetch


def test_prefetch_decodes_ahead_and_yields_in_order():
    started: list[int] = []
    release = threading.Event()

    def load(i: int) -> int:
        started.append(i)
        if i == 0:
            release.wait(5)
        return i

    gen = prefetch(list(range(6)), load, depth=3, workers=2)
    item, fut = next(gen)
    deadline = time.time() + 5
    while len(started) < 3 and time.time() < deadline:
        time.sleep(0.01)
    assert item == 0 and not fut.done() and len(started) >= 3  # later items load while 0 is pending
    release.set()
    results = [fut.result()] + [f.result() for _, f in gen]
    assert results == list(range(6))


def test_one_worker_draws_in_item_order_like_a_plain_loop():
    def draws(rng: np.random.Generator):
        return lambda i: (i, float(rng.random()))

    load = draws(np.random.default_rng(7))
    plain = [load(i) for i in range(20)]
    ahead = [f.result() for _, f in prefetch(range(20), draws(np.random.default_rng(7)), depth=4)]
    assert ahead == plain


def test_leaving_early_cancels_the_loads_not_started():
    started: list[int] = []

    def load(i: int) -> int:
        started.append(i)
        time.sleep(0.01)
        return i

    gen = prefetch(range(1000), load, depth=2)
    assert next(gen)[1].result() == 0
    gen.close()
    assert len(started) <= 4


@pytest.mark.parametrize("depth, workers", [(0, 1), (1, 0)])
def test_bad_sizes_raise(depth, workers):
    with pytest.raises(ValueError, match="depth and workers"):
        next(prefetch([1], lambda i: i, depth=depth, workers=workers))
