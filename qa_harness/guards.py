"""Guards around plug-in model code: a per-pair time limit and the output-range account.

`pair_deadline`: `--pair-timeout` as SIGALRM in the main thread, raising `PairTimeout` (a
BaseException, so model code catching `Exception` cannot swallow it) wherever the model is; Python
code and sleeps are interrupted at once, a C call when it returns to Python. A Ray actor runs its
calls in its process's main thread, so the Ray executor (and a matrix) honour it the same way.

`OutputRange`: model output should lie in [0, 1]. Values outside are clamped before scoring (metrics
assume the range), but counted: any is warned about, and a pair where more than `RANGE_TOLERANCE` of
the output values lie outside fails, since its scores would be plausible numbers computed from a
wrong image (a model returning 0..255, or 2x - 0.5).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import Tensor

from qa_harness.errors import ClipError, QaHarnessError

log = logging.getLogger(__name__)
RANGE_TOLERANCE = 0.01  # fraction of a pair's output values allowed outside [0, 1] before the pair fails


class PairTimeout(BaseException):  # noqa: N818 - read as an event, like KeyboardInterrupt
    """A pair ran past `--pair-timeout`."""


@contextmanager
def pair_deadline(seconds: float | None) -> Iterator[None]:
    """Raise `PairTimeout` in this (main) thread after `seconds`; no limit when None."""
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        raise QaHarnessError("--pair-timeout needs the main thread of the process that evaluates the pair")

    def expired(signum: int, frame: object) -> None:
        raise PairTimeout(f"pair ran past --pair-timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class OutputRange:
    """Counts one pair's output values outside [0, 1] across its batches."""

    outside: int = 0
    total: int = 0
    low: float = 0.0
    high: float = 1.0

    def add(self, out: Tensor, low: float, high: float) -> None:
        """Count a batch whose extremes are `low` and `high` (one `aminmax` pass, shared with the NaN check);
        values are compared one by one only when an extreme lies outside [0, 1]."""
        if low < 0 or high > 1:
            self.outside += int(((out < 0) | (out > 1)).sum())
        self.total += out.numel()
        self.low, self.high = min(self.low, low), max(self.high, high)

    @property
    def fraction(self) -> float:
        return self.outside / self.total if self.total else 0.0

    def check(self, pair_id: str) -> None:
        """Warn about any value outside [0, 1]; raise ClipError beyond the tolerance."""
        if not self.outside:
            return
        what = (
            f"{self.fraction:.2%} of the model's output values lie outside [0, 1] "
            f"(range {self.low:.4g} .. {self.high:.4g})"
        )
        if self.fraction > RANGE_TOLERANCE:
            raise ClipError(
                f"{what}, more than the {RANGE_TOLERANCE:.0%} tolerated: is the output scaled "
                "0..255 or -1..1 instead of 0..1?"
            )
        log.warning("pair %r: %s; clamped before scoring", pair_id, what)
