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


def test_stalled_body_gets_408_and_the_apps_answer_is_dropped():
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if pulled > 2:
            await asyncio.sleep(10)  # the client stops sending
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive_, send_) -> None:
        try:
            while (await receive_()).get("more_body"):
                pass
        except Exception:  # a framework turns the cut-off into its own error answer
            await send_({"type": "http.response.start", "status": 400, "headers": []})
            await send_({"type": "http.response.body", "body": b"parse error"})

    scope = {"type": "http", "method": "POST", "path": "/v1/crops", "headers": []}
    start = time.perf_counter()
    asyncio.run(UploadLimit(app, max_bytes=1000, stall_timeout_s=0.2)(scope, receive, send))
    assert time.perf_counter() - start < 2
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [408]
    assert (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"]["code"] == "timeout"


def test_waiting_for_a_disconnect_after_the_body_is_not_a_stall():
    messages = [{"type": "http.request", "body": b"ok", "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.sleep(0.3)
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive_, send_) -> None:
        await receive_()
        assert (await receive_())["type"] == "http.disconnect"  # outlives the stall timeout
        await send_({"type": "http.response.start", "status": 200, "headers": []})
        await send_({"type": "http.response.body", "body": b"done"})

    scope = {"type": "http", "method": "POST", "path": "/v1/crops", "headers": []}
    asyncio.run(UploadLimit(app, max_bytes=1000, stall_timeout_s=0.1)(scope, receive, send))
    assert sent[0]["status"] == 200


def test_body_within_the_limit_passes_untouched():
    sent, pulled, app_done = _run_upload(1000, [b"x" * 500, b"y" * 500], [(b"content-length", b"1000")])
    assert (sent[0]["status"], sent[1]["body"], pulled, app_done) == (200, b"ok", 2, True)


def _staged(deadline, stages: int, stage_s: float, ran: list[int]) -> str:
    """A call of ``stages`` steps of ``stage_s`` each, checking its deadline before every step."""
    for i in range(stages):
        deadline.check(f"stage {i}")
        time.sleep(stage_s)
        ran.append(i)
    return "done"


def test_a_timed_out_call_stops_at_its_next_stage_counts_as_cancelled_and_frees_its_slot():
    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=0, timeout_s=0.25)
        ran: list[int] = []
        async with pool.admitted() as slot:
            with pytest.raises(TimedOut):
                await slot.run(_staged, slot.deadline, 100, 0.05, ran)
        timed_out_at = time.perf_counter()
        while pool.running and time.perf_counter() - timed_out_at < 2:
            await asyncio.sleep(0.01)
        freed_after = time.perf_counter() - timed_out_at
        assert freed_after < 0.05 + 0.1  # within one stage (plus scheduling)
        assert len(ran) < 10 and (pool.running, pool.waiting, pool.full, pool.cancelled) == (0, 0, False, 1)
        assert await pool.run(_staged, _NoDeadline(), 1, 0.0, []) == "done"
        pool.shutdown()

    asyncio.run(scenario())


class _NoDeadline:
    def check(self, stage: str) -> None:
        pass


def test_a_slot_is_taken_before_the_upload_is_read_and_given_back_on_refusal():
    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=0, timeout_s=5)
        async with pool.admitted():
            assert pool.full and pool.waiting == 1  # admitted, reading its upload
            with pytest.raises(Overloaded):
                async with pool.admitted():
                    pass
        assert (pool.full, pool.waiting) == (False, 0)
        pool.shutdown()

    asyncio.run(scenario())


def test_the_heap_is_trimmed_only_when_the_process_holds_much_more_than_after_its_leanest_call(monkeypatch):
    from promptcrop.serve import limits

    resident = iter([100, 120, 100 + 65, 90, 90 + 64, 90 + 65])  # MB after successive calls
    monkeypatch.setattr(limits, "_resident_bytes", lambda: next(resident) * 2**20)
    trims: list[int] = []
    trimmer = limits.HeapTrimmer(slack_bytes=64 * 2**20)
    trimmer._trim = lambda pad: trims.append(pad) or 1
    for _ in range(6):
        trimmer()
    assert trims == [0, 0]  # at 165 MB (floor 100) and at 155 MB (floor 90); not at 154 MB


def test_a_call_stopped_by_its_own_deadline_before_the_timer_fires_is_a_time_out():
    """The call may reach a stage just after the slot's deadline, before the event loop's timer
    fires: the caller sees the same TimedOut. A deadline of its own that the call passed is the
    call's error."""
    from promptcrop.deadline import Deadline
    from promptcrop.errors import DeadlineExceeded

    def stopped(deadline) -> None:
        time.sleep(0.05)  # the run has started waiting, its timer set for 30 s
        deadline.cancel()  # as if past: expired before the timer fired
        deadline.check("stage 1")

    async def scenario() -> None:
        pool = WorkerPool(threads=1, max_queue=0, timeout_s=30)
        async with pool.admitted() as slot:
            with pytest.raises(TimedOut):
                await slot.run(stopped, slot.deadline)
        async with pool.admitted() as slot:
            with pytest.raises(DeadlineExceeded):
                await slot.run(stopped, Deadline.after(30))
        assert pool.cancelled == 2
        pool.shutdown()

    asyncio.run(scenario())
