"""Runs a model over a suite's pairs: batches of driving frames in, per-frame metric records out.

Only this module knows about devices, batching and prefetching. Decoding of the next chunk runs in a
background thread while the model and metrics work on the current one. Each pair is independent:
a bad file, a model exception or a NaN output fails that pair (recorded with its error) and the run
goes on; a metric that raises fails alone (`metrics.columns`). Batches are scored here or, with
`--metric-workers`, in worker processes while the model renders the next ones (`pipeline`, same
records). Values stay numpy columns from the metrics to the Parquet shard (`PairRecords`). Every pair
gets its own seed (run seed + pair id), so results do not depend on the order or on which pairs a resumed
run still had to do.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.errors import ClipError, QaHarnessError
from qa_harness.guards import OutputRange
from qa_harness.metrics.base import FrameBatch, Metric
from qa_harness.metrics.columns import MetricColumns
from qa_harness.models.base import Animator
from qa_harness.pipeline import Merged, MetricPool, MetricWorkerDied, PooledScorer, SerialScorer
from qa_harness.records import ClipOutcome, Pair, PairRecords, Suite
from qa_harness.thumbs import thumb_frames, write_region_thumbs, write_thumbs
from qa_harness.video.io import iter_frames, read_image

log = logging.getLogger(__name__)
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h


@dataclass(frozen=True)
class PairJob:
    """Everything a worker needs to evaluate pairs of one suite (local or remote)."""

    suite: Suite
    run_id: str
    batch_size: int
    seed: int
    #: Where to save thumbnails of a few frames per pair for the report (None: none). Workers of a
    #: multi-machine executor need it on a shared filesystem.
    thumbs_dir: Path | None = None


def prefetch(iterator: Iterator[Tensor], depth: int = 2) -> Iterator[Tensor]:
    """Run `iterator` in a thread, `depth` items ahead; its exceptions surface in the consumer."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: object) -> bool:
        """Hand `item` over unless the consumer stopped (then the thread must not block on a full queue)."""
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not put(item):
                    return
            put(done)
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


@functools.cache
def pin_malloc_mmap_threshold(threshold: int = 1 << 20) -> bool:
    """Serve every allocation >= 1 MiB by mmap, so freed frame buffers go back to the OS (glibc only).

    Why: chunks are decoded in the prefetch thread and freed in the consumer; glibc's *dynamic* mmap
    threshold then rises to the chunk size and those buffers land in the heap, where fragmentation
    made peak memory grow with clip length (measured: +1.6 MB per 256x256 frame). A fixed threshold
    keeps peak memory flat in clip length. Returns False where glibc's mallopt is not available.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))


def _pair_seed(seed: int, pair_id: str) -> int:
    import hashlib

    return (seed + int(hashlib.sha1(pair_id.encode()).hexdigest()[:8], 16)) % (2**31)


def _check_output(out: Tensor, driving: Tensor, first_frame: int) -> tuple[float, float]:
    """The output's (min, max), after checking its shape and that every value is finite.

    One `aminmax` pass (NaN propagates into both, +-Inf into one) instead of an `isfinite` pass and the
    range guard's own min/max; the frames are looked at one by one only to name the first bad one.
    """
    if not isinstance(out, Tensor) or out.shape != driving.shape:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ClipError(f"model returned {shape} for driving frames of shape {tuple(driving.shape)}")
    low, high = (float(v) for v in torch.aminmax(out))
    if not (math.isfinite(low) and math.isfinite(high)):
        finite = torch.isfinite(out).flatten(1).all(dim=1)
        bad = first_frame + int((~finite).nonzero()[0, 0])
        raise ClipError(f"model output has NaN/Inf values (first at frame {bad})")
    return low, high


def evaluate_pair(
    pair: Pair,
    model: Animator,
    metrics: Sequence[Metric],
    job: PairJob,
    device: torch.device,
    on_frames: Callable[[int], None] = lambda n: None,
    pool: MetricPool | None = None,
) -> tuple[ClipOutcome, PairRecords | None]:
    """Animate one pair and score every frame; failures become a `failed` outcome, never an exception.

    A metric that raises fails alone (`MetricColumns`): its values are NaN, the reason is recorded in the
    outcome's `metric_errors`, and the pair and the other metrics go on. With a `pool`, batches are scored
    in its metric worker processes while the model works on the next ones (same records).
    """
    start = time.perf_counter()
    torch.manual_seed(_pair_seed(job.seed, pair.id))
    frames_done = 0
    out_range = OutputRange()
    columns: MetricColumns | None = None
    scorer: SerialScorer | PooledScorer | None = None
    try:
        for clip in (pair.source, pair.driving):
            if clip.problem:
                raise ClipError(clip.problem)
        chunks = prefetch(
            iter_frames(
                pair.driving.path,
                resolution=job.suite.resolution,
                crop=pair.driving.crop,
                chunk=job.batch_size,
                max_frames=job.suite.max_frames,
                expected=pair.driving.frame_count or None,
            )
        )
        first = next(chunks).to(device)
        source = (
            first[0]
            if pair.protocol == "reconstruction"
            else read_image(pair.source.path, resolution=job.suite.resolution, crop=pair.source.crop).to(device)
        )
        state = model.prepare(source, driving_first=first[0] if model.needs_driving_first else None)
        applicable = [m for m in metrics if pair.protocol == "reconstruction" or not m.needs_reference]
        if not applicable:
            raise ClipError(
                f"pair {pair.id!r}: no metric applies to the {pair.protocol} protocol (metrics: "
                f"{', '.join(m.name for m in metrics) or 'none'}); list a no-reference metric"
            )
        columns = MetricColumns(applicable, pair.id)
        total = job.suite.frames_of(pair)
        thumbs = set(thumb_frames(total)) if job.thumbs_dir is not None else set()

        def merged(batch: Merged) -> None:
            if batch.held is not None:
                _save_thumbs(job.thumbs_dir, pair.id, batch)
            on_frames(batch.frames)

        scorer = pool.scorer(columns, merged) if pool is not None else SerialScorer(columns, merged)
        for driving in _chain(first, chunks, device):
            n = driving.shape[0]
            out = model.animate(state, driving)
            low, high = _check_output(out, driving, frames_done)
            out_range.add(out, low, high)
            if low < 0 or high > 1:  # else clamping would change nothing: no copy
                out = out.clamp(0.0, 1.0)
            batch = FrameBatch(
                pair=pair,
                frames=torch.arange(frames_done, frames_done + n),
                output=out,
                driving=driving,
                source=source,
                target=driving if pair.protocol == "reconstruction" else None,
            )
            scorer.submit(batch, sorted(thumbs & set(range(frames_done, frames_done + n))))
            frames_done += n
        scorer.finish()
        out_range.check(pair.id)
        per_frame = columns.per_frame(frames_done)
        clip_metrics = columns.clip_values(per_frame)
        if why := columns.nothing_measured(per_frame, clip_metrics):
            raise NothingMeasured(f"measured nothing: every metric value is NaN on every frame ({why})")
    except (Exception, SystemExit) as err:  # one bad pair (media, model bug, NaN, sys.exit) must not abort the run
        message = _failure_message(err)
        if scorer is not None and not isinstance(err, MetricWorkerDied):
            _settle(scorer, pair.id)  # the batches before the failure merged, as the serial path has them
        log.warning("pair %r failed: %s", pair.id, message)
        outcome = ClipOutcome(
            pair.id,
            "failed",
            frames_done,
            time.perf_counter() - start,
            error=message,
            output_out_of_range=out_range.fraction,
            # counted for a pair that measured nothing too: its reasons reach the run's totals
            unscored=columns.unscored() if columns is not None else {},
            metric_errors=dict(columns.errors) if columns is not None else {},
        )
        return outcome, None
    records = PairRecords(
        run_id=job.run_id,
        suite=job.suite.name,
        suite_version=job.suite.version,
        pair_id=pair.id,
        protocol=pair.protocol,
        frames=np.arange(frames_done, dtype=np.int64),
        metrics=per_frame,
        conditions=_conditions(pair, frames_done),
    )
    outcome = ClipOutcome(
        pair.id,
        "ok",
        frames_done,
        time.perf_counter() - start,
        clip_metrics=clip_metrics,
        output_out_of_range=out_range.fraction,
        unscored=columns.unscored(),
        metric_errors=dict(columns.errors),
    )
    return outcome, records


class NothingMeasured(ClipError):
    """A pair on which no metric scored a single frame (all NaN): failed, not "ok", with each metric's reason."""


def _failure_message(err: BaseException) -> str:
    """A pair's error: ours verbatim; anything else with its type; sys.exit() in model code said so."""
    if isinstance(err, SystemExit):
        return f"model or metric code called sys.exit({err.code!r})"
    return str(err) if isinstance(err, QaHarnessError) else f"{type(err).__name__}: {err}"


def _conditions(pair: Pair, n: int) -> dict[str, tuple[str | None, ...]]:
    """Axis -> one value per frame (`Pair.frame_conditions`); axes in order of first appearance."""
    per_frame = [pair.frame_conditions(i) for i in range(n)]
    axes = dict.fromkeys(axis for tags in per_frame for axis in tags)
    return {axis: tuple(str(t[axis]) if axis in t else None for t in per_frame) for axis in axes}


def _settle(scorer: SerialScorer | PooledScorer, pair_id: str) -> None:
    """Merge the batches still in flight of a pair that failed; a second failure is only logged."""
    try:
        scorer.finish()
    except Exception as err:
        log.warning("pair %r: its scored batches could not all be merged: %s", pair_id, err)


def _save_thumbs(folder: Path, pair_id: str, batch: Merged) -> None:
    """Thumbnails of the held frames of a batch, and crops of the regions face metrics score inside."""
    held = batch.held
    assert held is not None
    for j, (frame, row) in enumerate(zip(held.frames, held.rows, strict=True)):
        target = held.target[j] if held.target is not None else None
        write_thumbs(folder, pair_id, frame, source=held.source, output=held.output[j], target=target)
        if batch.boxes:
            write_region_thumbs(
                folder,
                pair_id,
                frame,
                {k: v[row].tolist() for k, v in batch.boxes.items()},
                target=target,
                output=held.output[j],
            )


def _chain(first: Tensor, rest: Iterator[Tensor], device: torch.device) -> Iterator[Tensor]:
    yield first
    for chunk in rest:
        yield chunk.to(device, non_blocking=True)
