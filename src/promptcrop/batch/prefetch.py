"""Ordered read-ahead: run a loading function on the next items in threads while the caller works.

Image decoding, resizing and augmentation (Pillow, numpy) release the GIL, so on a 2-core machine
a loader thread overlaps them with the model's forward and backward passes. Used by the batch
runner (decode the next photos while one is cropped) and the grounding fine-tune (prepare the next
batch while a step runs).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")


def prefetch(
    items: Iterable[Item], load: Callable[[Item], Loaded], depth: int, workers: int = 1
) -> Iterator[tuple[Item, Future[Loaded]]]:
    """Yield ``(item, future of load(item))`` in the order of ``items`` while up to ``depth``
    further items are being loaded ahead by ``workers`` threads (at most ``depth``).

    With ``workers=1`` the loads run one after another in item order, so a ``load`` that draws
    from a shared random generator gives the same results as a plain loop. Leaving the iterator
    early (``break``, an exception, ``close()``) cancels the loads not yet started and waits for
    the running ones.
    """
    if depth < 1 or workers < 1:
        raise ValueError(f"depth and workers must be >= 1, got {depth}, {workers}")
    pool = ThreadPoolExecutor(max_workers=min(workers, depth), thread_name_prefix="promptcrop-load")
    pending: deque[tuple[Item, Future[Loaded]]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(load, item)))
            if len(pending) > depth:
                yield pending.popleft()
        while pending:
            yield pending.popleft()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
