"""The default executor: pairs evaluated one after another in this process (GPU when present)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa_harness.executors.worker import MetricsInfo, Worker, WorkSpec
from qa_harness.records import ClipOutcome, Pair, PairRecords

#: Called with each finished pair: its outcome and its records (None for a failed pair).
ResultSink = Callable[[ClipOutcome, PairRecords | None], None]


class LocalExecutor:
    """Runs a `Worker` in-process; hands each finished pair to `on_result` before starting the next."""

    def run(
        self, pairs: Sequence[Pair], spec: WorkSpec, *, on_result: ResultSink, on_frames: Callable[[int], None]
    ) -> MetricsInfo:
        """Evaluate `pairs`; returns what the worker's metrics are (unavailable ones, directions)."""
        worker = Worker(spec)
        try:
            for pair in pairs:
                on_result(*worker.evaluate(pair, on_frames=on_frames))
        finally:
            worker.close()
        return worker.info


def build(**options: object) -> LocalExecutor:
    if options:
        raise TypeError(f"the local executor takes no options, got {sorted(options)}")
    return LocalExecutor()
