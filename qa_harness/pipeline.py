"""Metric workers: a pair's batches are scored in other processes while this one decodes and runs the model.

Data flows one way. The runner decodes and runs the model batch by batch and hands each output batch
(with its ground truth and frame indices) to a scorer. `SerialScorer` scores it at once, in this process
(the default). `MetricPool.scorer` sends it through a bounded queue to N metric worker processes (forked
by a fork server: `evaluate --metric-workers N`; `threads` torch threads each, N x threads <= cores);
results come back keyed by (pair serial, batch index) and are merged in batch order by
`MetricColumns.merge`, the step the serial path uses too: records are the serial path's for any N
(`tests/test_pipeline.py`). Metrics that carry state across batches (`Metric.in_order`) are scored in
this process, in order. Workers score on the CPU: on a GPU machine, where the serial path's metrics run
on the GPU, values agree within float tolerance, not bit for bit. Why: a GPU model renders faster than
CPU metrics score, and the metrics need the cores while the accelerator works
(`benchmarks/pipeline_bench.py`).

Memory: at most `depth` (2 x N) batches in flight, their tensors in shared memory (torch.multiprocessing);
a held batch is freed once scored, so memory stays flat in clip length. Failures: a metric that raises
is an error score, merged as in the serial path (same NaN columns, same reason); a worker that dies
(killed, out of memory, a crash in native code) fails the pair being scored with a message naming the
pair, the worker's pid and how it ended, and the workers are started afresh for the next pair. Every
wait polls the workers, so a dead one is never waited for.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp
from torch import Tensor

from qa_harness.errors import ClipError, QaHarnessError
from qa_harness.metrics.base import FrameBatch, MetricContext
from qa_harness.metrics.columns import MetricColumns, Score, score_batch

log = logging.getLogger(__name__)
_POLL_S = 0.2  # how often a wait looks at the workers' liveness
_START_S = 300.0  # a worker that has not built its metrics by then is reported, not waited for
#: Modules the fork server imports before it forks any worker (torch and the default metric set's).
_PRELOAD = ["qa_harness.executors.worker", "qa_harness.metrics.lpips", "qa_harness.metrics.ssim"]


@dataclass(frozen=True)
class PoolSpec:
    """How to build the metric workers: plain picklable data (the same metrics as the driving process)."""

    metrics: tuple[str, ...]
    workers: int
    threads: int  # torch threads per worker
    cache_dir: Path | None = None
    suite_version: str = ""
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def worker_threads(workers: int) -> int:
    """Torch threads per metric worker: the cores this process may use, shared out (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, workers))


@dataclass(frozen=True)
class Held:
    """Frames of a batch kept for thumbnails until the batch is merged (copies: the batch itself is freed)."""

    frames: list[int]  # frame indices in the clip
    rows: list[int]  # their rows in the batch (for the region boxes)
    source: Tensor
    output: Tensor
    target: Tensor | None


@dataclass(frozen=True)
class Merged:
    """One batch after its merge: its frame count, the held thumbnail frames and the live metrics' boxes."""

    frames: int
    held: Held | None
    boxes: dict[str, Tensor]


OnMerged = Callable[[Merged], None]


def _held(batch: FrameBatch, thumbs: list[int]) -> Held | None:
    if not thumbs:
        return None
    rows = [frame - int(batch.frames[0]) for frame in thumbs]
    target = batch.target[rows].cpu() if batch.target is not None else None
    return Held(thumbs, rows, batch.source.cpu(), batch.output[rows].cpu(), target)


class SerialScorer:
    """Scores each batch when it is submitted, in this process: the default path."""

    def __init__(self, columns: MetricColumns, on_merged: OnMerged) -> None:
        self.columns, self.on_merged = columns, on_merged

    def submit(self, batch: FrameBatch, thumbs: list[int]) -> None:
        boxes = bool(thumbs) and batch.target is not None
        merged = self.columns.merge(score_batch(self.columns.live(), batch, boxes=boxes))
        self.on_merged(Merged(len(batch.frames), _held(batch, thumbs), merged))

    def finish(self) -> None:
        """Every submitted batch is merged (nothing to wait for here)."""


class MetricWorkerDied(ClipError):
    """A metric worker process ended while batches were in flight: the pair being scored fails."""


def _ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"was killed by {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


def _serve(spec: PoolSpec, here: tuple[dict[str, str], str, int], tasks: Any, results: Any) -> None:
    """A metric worker: build the metrics, then score (key, batch, metric names, boxes) tasks until None."""
    from qa_harness.executors.worker import build_metrics  # here: the worker module imports the runner
    from qa_harness.runner import pin_malloc_mmap_threshold

    os.environ.clear()
    os.environ.update(here[0])
    os.chdir(here[1])

    logging.basicConfig(level=logging.ERROR)  # metric failures are logged by the driving process on merge
    torch.set_num_threads(spec.threads)
    pin_malloc_mmap_threshold()
    ctx = MetricContext(device=torch.device("cpu"), cache_dir=spec.cache_dir, suite_version=spec.suite_version)
    try:
        by_name = {m.name: m for m in build_metrics(spec.metrics, ctx, spec.options)[0]}
    except Exception as err:
        results.put(("ready", os.getpid(), f"{type(err).__name__}: {err}"))
        return
    results.put(("ready", os.getpid(), ""))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driving process's to handle
    with torch.inference_mode():
        while (task := _next_task(tasks, here[2])) is not None:
            key, batch, names, boxes = task
            try:
                found: dict[str, Score] | str = score_batch([by_name[n] for n in names], batch, boxes=boxes)
            except Exception as err:  # not a metric's own error (those are scores): the pair fails with it
                found = f"metric worker {os.getpid()}: {type(err).__name__}: {err}"
            results.put((key, found))
            del task, batch


def _next_task(tasks: Any, driver: int) -> Any:
    """The next task, or None once told so or orphaned (the driving process was killed: no one to answer;
    the fork server outlives it while a worker holds its liveness pipe, so the parent pid does not tell)."""
    while _alive(driver):
        try:
            return tasks.get(timeout=1.0)
        except queue.Empty:
            continue
    return None


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: the signal test (true for a zombie too)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


class MetricPool:
    """N metric worker processes, started on first use and again after one died; `close` ends them."""

    def __init__(self, spec: PoolSpec) -> None:
        self.spec = spec
        self.depth = 2 * spec.workers  # batches in flight at most
        self._procs: list[Any] = []
        self._sent: set[tuple[int, int]] = set()  # keys in flight, of any pair (a failed pair's are dropped)
        self._serial = 0

    def scorer(self, columns: MetricColumns, on_merged: OnMerged) -> PooledScorer:
        """A scorer for the next pair (workers started, or restarted after a death)."""
        if not self._procs or any(p.exitcode is not None for p in self._procs):
            self.close()
            self._start()
        self._serial += 1
        return PooledScorer(self, self._serial, columns, on_merged)

    def _start(self) -> None:
        ctx = mp.get_context("forkserver")  # a clean process (no threads, no CUDA) forks the workers
        ctx.set_forkserver_preload(_PRELOAD)  # imported once: a (re)start costs the metrics' build only
        here = (dict(os.environ), os.getcwd(), os.getpid())  # this process's, not the fork server's
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._procs = [
            ctx.Process(
                target=_serve, args=(self.spec, here, self._tasks, self._results), daemon=True, name=f"metrics-{i}"
            )
            for i in range(self.spec.workers)
        ]
        for proc in self._procs:
            proc.start()
        deadline = time.monotonic() + _START_S
        for _ in self._procs:
            _, pid, error = self._get("starting the metric workers", deadline)
            if error:
                self.close()
                raise QaHarnessError(f"metric worker {pid} could not build its metrics: {error}")

    def send(self, key: tuple[int, int], batch: FrameBatch, names: list[str], boxes: bool) -> None:
        self._sent.add(key)
        self._tasks.put((key, batch, names, boxes))

    def in_flight(self) -> int:
        return len(self._sent)

    def receive(self, what: str) -> tuple[tuple[int, int], dict[str, Score] | str]:
        """The next result of any in-flight batch; `MetricWorkerDied` (naming `what`) if a worker ended."""
        key, found = self._get(what)
        self._sent.discard(key)
        return key, found

    def _get(self, what: str, deadline: float | None = None) -> Any:
        while True:
            try:
                return self._results.get(timeout=_POLL_S)
            except queue.Empty:
                pass
            for proc in self._procs:
                if proc.exitcode is not None:
                    self._sent.clear()
                    raise MetricWorkerDied(
                        f"metric worker {proc.pid} {_ended(proc.exitcode)} while {what}; "
                        "the metric workers are started afresh for the next pair"
                    )
            if deadline is not None and time.monotonic() > deadline:
                self.close()
                raise QaHarnessError(f"metric workers: not ready after {_START_S:g} s ({what})")

    def close(self) -> None:
        """End the workers (a dead or stuck one is terminated)."""
        for proc in self._procs:
            if proc.exitcode is None:
                self._tasks.put(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.exitcode is None:
                proc.terminate()
                proc.join(timeout=5)
        self._procs, self._sent = [], set()


class PooledScorer:
    """One pair's batches through a `MetricPool`, merged in batch order (see the module docstring)."""

    def __init__(self, pool: MetricPool, serial: int, columns: MetricColumns, on_merged: OnMerged) -> None:
        self.pool, self.serial, self.columns, self.on_merged = pool, serial, columns, on_merged
        self._pending: dict[int, tuple[int, dict[str, Score], Held | None]] = {}  # index -> in-order scores
        self._scored: dict[int, dict[str, Score]] = {}  # index -> the workers' scores, until merged
        self._failed_here: set[str] = set()  # in-order metrics that failed here: not asked again
        self._submitted = self._merged = 0

    def submit(self, batch: FrameBatch, thumbs: list[int]) -> None:
        """Send a batch out (once fewer than `depth` are in flight); merge those that came back."""
        live = [m for m in self.columns.live() if m.name not in self._failed_here]
        boxes = bool(thumbs) and batch.target is not None
        here = score_batch([m for m in live if m.in_order], batch, boxes=boxes)
        self._failed_here |= {name for name, score in here.items() if score.error}
        index, self._submitted = self._submitted, self._submitted + 1
        self._pending[index] = (len(batch.frames), here, _held(batch, thumbs))
        if names := [m.name for m in live if not m.in_order]:
            while self.pool.in_flight() >= self.pool.depth:
                self._take()
            self.pool.send((self.serial, index), _shared(batch), names, boxes)
        else:
            self._scored[index] = {}
        self._merge_ready()

    def finish(self) -> None:
        """Wait for every submitted batch and merge it."""
        while self._merged < self._submitted:
            self._take()
            self._merge_ready()

    def _take(self) -> None:
        first = min(self._pending, default=self._merged)
        what = f"scoring pair {self.columns.pair_id!r} (batches from {first} in flight)"
        (serial, index), found = self.pool.receive(what)
        if serial != self.serial:
            return  # a batch of a pair that failed before its scores came back
        if isinstance(found, str):
            raise ClipError(found)
        self._scored[index] = found

    def _merge_ready(self) -> None:
        while self._merged in self._scored:
            frames, here, held = self._pending.pop(self._merged)
            boxes = self.columns.merge({**self._scored.pop(self._merged), **here})
            self._merged += 1
            self.on_merged(Merged(frames, held, boxes))


def _shared(batch: FrameBatch) -> FrameBatch:
    """The batch with its tensors on the CPU in shared memory, moved here, in this thread.

    Why here: the queue pickles in its feeder thread, and moving a storage to shared memory there swapped
    its data pointer while this thread read it (the source, used by every batch and by the model): a
    segfault, seen in `benchmarks/pipeline_bench.py --memory`."""
    if batch.output.device.type != "cpu":
        target = None if batch.target is None else batch.target.cpu()
        driving = target if batch.target is batch.driving else batch.driving.cpu()
        batch = replace(batch, output=batch.output.cpu(), driving=driving, source=batch.source.cpu(), target=target)
    for tensor in (batch.frames, batch.output, batch.driving, batch.source, batch.target):
        if tensor is not None:
            tensor.share_memory_()  # in place, once (a no-op for a storage already shared: the source)
    return batch
