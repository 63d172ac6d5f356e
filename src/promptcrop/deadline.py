"""A deadline (and cancellation token) for one call, checked between the stages of a prediction.

A caller that stops waiting — the service past its ``--timeout-s``, a client gone — cannot stop a
thread in the middle of a model forward, but the :class:`~promptcrop.Predictor` checks the
deadline before each stage (decode, encode, text, ground, compose, encode output) and raises
:class:`~promptcrop.errors.DeadlineExceeded` there, so abandoned work frees its worker within one
stage's time instead of running to the end.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from promptcrop.errors import DeadlineExceeded

#: The stages a prediction checks its deadline before, in order.
STAGES = ("decode", "encode", "text", "ground", "compose", "encode output")


@dataclass(frozen=True)
class Deadline:
    """Stop by ``at`` (``time.monotonic()`` seconds) or when :meth:`cancel` is called, whichever
    comes first. Thread-safe: one thread cancels, another checks."""

    at: float
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    @property
    def remaining_s(self) -> float:
        """Seconds left (0 once cancelled or past)."""
        if self._cancelled.is_set():
            return 0.0
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._cancelled.is_set() or time.monotonic() >= self.at

    def cancel(self) -> None:
        """Expire now (the caller is gone)."""
        self._cancelled.set()

    def check(self, stage: str) -> None:
        """Raise :class:`DeadlineExceeded` naming ``stage`` when expired."""
        if self.expired:
            reason = "cancelled" if self._cancelled.is_set() else "past its deadline"
            raise DeadlineExceeded(f"the call stopped before {stage}: {reason}")


def check_deadline(deadline: Deadline | None, stage: str) -> None:
    """:meth:`Deadline.check` when there is a deadline (``None``: no limit)."""
    if deadline is not None:
        deadline.check(stage)
