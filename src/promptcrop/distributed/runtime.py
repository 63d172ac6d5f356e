"""Ray itself: the optional import, starting or joining a cluster, and sizing the actor pool.

Actor sizing (:func:`actor_pool`): by default one actor per CPU of the cluster, each asking for a
share of a CPU that leaves about one CPU (10 % on big clusters) free for Ray Data's own read and
split tasks — on a 2-CPU machine two actors of 0.5 CPU. Asking every actor for a whole CPU there
starves the read task and the job never finishes. GPU actors (``num_gpus > 0``) default to one
per GPU share.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from promptcrop.errors import PromptcropError, RequestError

RAY_INSTALL_HINT = "pip install 'promptcrop[ray]'"


def require_ray() -> ModuleType:
    """``import ray`` (with Ray Data), or one line saying how to install it.

    Raises:
        PromptcropError: Ray or pyarrow is not installed.
    """
    try:
        import pyarrow  # noqa: F401  - Ray Data's block format; records.parquet
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise PromptcropError(f"the Ray engine needs Ray Data: {RAY_INSTALL_HINT}") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, *, quiet: bool = False) -> Iterator[None]:
    """Ray for the length of the block.

    ``address``: ``None`` starts a local Ray with this machine's CPUs; ``"auto"`` joins the
    cluster started on this machine (``ray start --head``); ``"HOST:PORT"`` or ``"ray://..."``
    joins that one. When Ray is already initialised (a notebook, a test fixture) it is used as is
    and left running; otherwise it is shut down at the end. ``quiet`` hides Ray Data's progress.
    """
    ray = require_ray()
    from ray.data import DataContext

    context = DataContext.get_current()
    progress, context.enable_progress_bars = context.enable_progress_bars, not quiet
    started = not ray.is_initialized()
    try:
        if started:
            _init(ray, address)
        yield
    finally:
        context.enable_progress_bars = progress
        if started and ray.is_initialized():
            ray.shutdown()


def _init(ray: ModuleType, address: str | None) -> None:
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PromptcropError(f"cannot start or join {where}: {detail}") from None


_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?(?P<name>[A-Za-z_]\w*(?:Error|Exception)): (?P<message>.+)$")


def ray_failure(exc: BaseException) -> str:
    """One line for a failed Ray job: the innermost ``SomeError: message`` line of Ray's report
    (it carries the remote traceback), else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [m for m in map(_ERROR_LINE.match, lines) if m]
    if causes:
        return f"{causes[-1]['name']}: {causes[-1]['message']}"
    return lines[0] if lines else type(exc).__name__


@dataclass(frozen=True)
class ActorPool:
    """How many crop actors run (``size``: fixed, or ``(min, max)`` autoscaling) and what each asks
    of a node (``num_cpus``, ``num_gpus``)."""

    size: int | tuple[int, int]
    num_cpus: float
    num_gpus: float = 0.0

    def compute(self) -> object:
        """The ``ray.data.ActorPoolStrategy`` for ``map_batches(compute=...)``."""
        from ray.data import ActorPoolStrategy

        if isinstance(self.size, tuple):
            return ActorPoolStrategy(min_size=self.size[0], max_size=self.size[1])
        return ActorPoolStrategy(size=self.size)


def actor_pool(
    concurrency: int | tuple[int, int] | None, *, num_gpus: float = 0.0, num_cpus: float | None = None,
    cluster: dict[str, float] | None = None,
) -> ActorPool:
    """Size the actor pool from the cluster's resources (``ray.cluster_resources()`` unless
    ``cluster`` is given); see the module docstring. Raises ``RequestError`` on a bad value."""
    if num_gpus < 0 or (num_cpus is not None and num_cpus <= 0):
        raise RequestError(f"num_gpus must be >= 0 and num_cpus > 0, got {num_gpus} and {num_cpus}")
    if cluster is None:
        import ray

        cluster = ray.cluster_resources()
    cpus = float(cluster.get("CPU", 1.0))
    if concurrency is None:
        gpus = float(cluster.get("GPU", 0.0))
        concurrency = max(1, int(gpus // num_gpus)) if num_gpus else max(1, int(cpus))
    sizes = concurrency if isinstance(concurrency, tuple) else (concurrency, concurrency)
    if len(sizes) != 2 or not all(isinstance(n, int) and n >= 1 for n in sizes) or sizes[0] > sizes[1]:
        raise RequestError(f"concurrency must be a positive integer or (min, max), got {concurrency!r}")
    if num_cpus is None:
        reserve = min(max(1.0, 0.1 * cpus), cpus / 2)  # Ray Data's read and split tasks
        num_cpus = round(max(0.05, min(1.0, (cpus - reserve) / sizes[1])), 3)
    return ActorPool(size=concurrency, num_cpus=num_cpus, num_gpus=float(num_gpus))
