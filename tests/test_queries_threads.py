"""spaCy is never entered by two threads at once (the service parses queries on several workers)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from promptcrop import queries


class _RecordingPipeline:
    """Stands in for a spaCy pipeline: records how many threads are inside ``pipe`` at once."""

    def __init__(self, real) -> None:
        self.real = real
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()

    def pipe(self, texts, batch_size=256):
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.01)  # long enough for the other threads to arrive
            yield from self.real.pipe(texts, batch_size=batch_size)
        finally:
            with self.lock:
                self.inside -= 1


def test_concurrent_parses_enter_the_pipeline_one_at_a_time_and_match_serial_ones(monkeypatch):
    real = queries.load_spacy_pipeline()
    if real is None:
        import pytest

        pytest.skip("no spaCy English model installed")
    texts = [f"the red car number {i} next to a tall building" for i in range(32)]
    serial = [queries.parse_query(t) for t in texts]
    recorder = _RecordingPipeline(real)
    monkeypatch.setattr(queries, "_backend_pipeline", lambda backend: recorder)
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(queries.parse_query, texts))
    assert recorder.most == 1
    assert parallel == serial
