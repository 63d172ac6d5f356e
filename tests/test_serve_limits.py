"""The worker pool (bounded queue, 503, 504, cancellation) and the streaming upload limit."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from promptcrop.serve.limits import Overloaded, TimedOut, UploadLimit, WorkerPool


def _blocking(event: threading.Event, ran: list[str], name: str) -> str:
    event.wait(5)
    ran.append(name)
    return name


def test_pool_refuses_beyond_threads_plus_queue_at_once_and_drains_to_zero():
    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=1, timeout_s=5)
        release, ran = threading.Event(), []
        first = asyncio.create_task(pool.run(_blocking, release, ran, "a"))
        second = asyncio.create_task(pool.run(_blocking, release, ran, "b"))
        await asyncio.sleep(0.05)
        assert (pool.running, pool.waiting, pool.full) == (1, 1, True)
        start = time.perf_counter()
        with pytest.raises(Overloaded) as refused:
            await pool.run(_blocking, release, ran, "c")
        assert time.perf_counter() - start < 0.1
        assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) >= 1
        release.set()
        assert await asyncio.gather(first, second) == ["a", "b"]
        assert (pool.running, pool.waiting, pool.full, ran) == (0, 0, False, ["a", "b"])
        pool.shutdown()

    asyncio.run(scenario())


def test_timeout_cancels_a_waiting_call_and_keeps_a_running_one_counted_until_it_returns():
    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=2, timeout_s=0.2)
        release, ran = threading.Event(), []
        running = asyncio.create_task(pool.run(_blocking, release, ran, "running"))
        waiting = asyncio.create_task(pool.run(_blocking, release, ran, "waiting"))
        for task in (running, waiting):
            with pytest.raises(TimedOut):
                await task
        # the running call cannot be interrupted: it keeps its slot; the waiting one was dropped
        assert (pool.running, pool.waiting) == (1, 0)
        release.set()
        for _ in range(100):
            if pool.running == 0:
                break
            await asyncio.sleep(0.01)
        assert (pool.running, pool.waiting, ran) == (0, 0, ["running"])
        pool.shutdown()

    asyncio.run(scenario())


def test_errors_of_the_call_propagate_and_free_the_slot():
    def fail() -> None:
        raise ValueError("bad input")

    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=0, timeout_s=5)
        with pytest.raises(ValueError, match="bad input"):
            await pool.run(fail)
        assert (pool.running, pool.waiting, pool.full) == (0, 0, False)
        pool.shutdown()

    asyncio.run(scenario())


def _run_upload(limit: int, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[list[dict], int, bool]:
    """Send ``chunks`` through UploadLimit to an app reading the whole body; return what the
    client got, how many chunks were pulled and whether the app saw the end of the body."""
    pulled = 0
    sent: list[dict] = []
    app_done = False

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive_, send_) -> None:
        nonlocal app_done
        while (await receive_()).get("more_body"):
            pass
        app_done = True
        await send_({"type": "http.response.start", "status": 200, "headers": []})
        await send_({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "method": "POST", "path": "/v1/crops", "headers": headers}
    asyncio.run(UploadLimit(app, max_bytes=limit)(scope, receive, send))
    return sent, pulled, app_done


def test_streamed_body_is_cut_off_at_the_limit_with_413():
    chunks = [b"x" * 100] * 50  # 5,000 bytes, no Content-Length (chunked)
    sent, pulled, app_done = _run_upload(1000, chunks, [])
    assert sent[0]["status"] == 413 and not app_done
    assert pulled == 11  # stopped at the first chunk past the limit, the rest was never read
    assert json.loads(sent[1]["body"])["error"]["code"] == "upload_too_large"


def test_declared_length_above_the_limit_is_refused_before_reading_the_body():
    sent, pulled, app_done = _run_upload(1000, [b"x" * 5000], [(b"content-length", b"5000")])
    assert (sent[0]["status"], pulled, app_done) == (413, 0, False)


def test_body_within_the_limit_passes_untouched():
    sent, pulled, app_done = _run_upload(1000, [b"x" * 500, b"y" * 500], [(b"content-length", b"1000")])
    assert (sent[0]["status"], sent[1]["body"], pulled, app_done) == (200, b"ok", 2, True)
