"""Attacks through a real server (``promptcrop serve --offline`` on a free loopback port), each
with a well-behaved client served throughout: the attacks of ``benchmarks/service_attack.py``
(that script measures them; this suite pins them).

Each attack must get its expected answer (a 4xx, or a closed connection for stalled clients)
within its time bound, the good client only ``200`` meanwhile, and at the end the server's log
no traceback and its peak RSS stays under the ceiling: for the default (light) attacks, which are
all refused before any large allocation, 1.5 x the idle RSS + 100 MB (the good client's own
requests and the multipart buffers); for the slow run, 1.5 x the idle RSS + the working set of one
maximal request measured on the same server. ``slow``: the issue's full sizes (1,000 stalled
uploads, headers at a byte a second, ten requests past the timeout).
"""

from __future__ import annotations

import signal

import pytest

from paths import benchmark_module
from serve_helpers import start_server

LIGHT_HEADROOM_MB = 100
_SLOW_ONLY = {"requests past the timeout"}


@pytest.fixture(scope="module")
def attacks():
    with benchmark_module("service_attack") as module:
        yield module


@pytest.fixture(scope="module")
def server(attacks, tmp_path_factory):
    process = start_server(tmp_path_factory.mktemp("attacks"), "--offline", *attacks.server_options())
    yield process
    process.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def idle_rss(attacks, server) -> float:
    """The server's RSS after one ordinary request (its imports and caches warm)."""
    import httpx

    httpx.post(server.url + "/v1/crops", files={"image": ("a.jpg", attacks.good_photo(), "image/jpeg")},
               headers={"X-API-Key": attacks.KEY}, timeout=60).raise_for_status()
    return attacks.rss_mb(server.process.pid)


@pytest.fixture(scope="module")
def good(attacks, server, idle_rss):
    with attacks.GoodClient(server.url) as client:
        yield client


def _target(attacks, server, heavy: bool):
    return attacks.Target(server.port, heavy=heavy, metrics=attacks.metrics_reader(server.url))


def _attack_names() -> list[str]:
    with benchmark_module("service_attack") as module:
        return [a.name for a in module.ATTACKS]


def _check(attacks, server, good, name: str, heavy: bool) -> None:
    attack = next(a for a in attacks.ATTACKS if a.name == name)
    outcome = attack.run(_target(attacks, server, heavy))
    _latencies, failures = good.take()
    assert attack.handled(outcome), (
        f"{name}: statuses {sorted(set(outcome.statuses))} (expected {sorted(attack.expect)}) in "
        f"{outcome.seconds:.2f} s (bound {attack.max_s:g} s) {outcome.note}")
    assert failures == [], f"the good client was refused during {name!r}: {failures}"


@pytest.mark.parametrize("name", [n for n in _attack_names() if n not in _SLOW_ONLY])
def test_each_attack_gets_its_answer_in_time_while_a_good_client_is_served(attacks, server, good, name):
    _check(attacks, server, good, name, heavy=False)


def test_the_light_attacks_left_no_traceback_and_little_memory(attacks, server, good, idle_rss):
    peak = attacks.rss_mb(server.process.pid, "VmHWM")
    assert peak <= 1.5 * idle_rss + LIGHT_HEADROOM_MB, f"peak RSS {peak:.0f} MB, idle {idle_rss:.0f} MB"
    assert "Traceback" not in server.log() and "Exception in ASGI application" not in server.log()


@pytest.mark.slow
def test_the_issues_full_sizes_and_repeated_timeouts_stay_under_the_memory_ceiling(attacks, server, good, idle_rss):
    working = attacks.working_set_mb(_target(attacks, server, True), server.process.pid)
    good.take()
    for attack in attacks.ATTACKS:
        _check(attacks, server, good, attack.name, heavy=True)
    peak = attacks.rss_mb(server.process.pid, "VmHWM")
    assert peak <= 1.5 * idle_rss + working, f"peak RSS {peak:.0f} MB, idle {idle_rss:.0f} MB, one request {working:.0f} MB"
    assert "Traceback" not in server.log()
