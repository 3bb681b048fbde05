"""What every executor runs: build the model and metrics once, then evaluate pairs one by one.

A `WorkSpec` is plain, picklable data, so the same `Worker` can be built in this process or in a
remote one (a Ray actor, say): workers never write to the run folder or MLflow; they return
outcomes and records to the driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qa_harness.catalog import METRICS, MODELS
from qa_harness.errors import QaHarnessError, WeightsUnavailableError
from qa_harness.guards import PairTimeout, pair_deadline
from qa_harness.metrics.base import Metric, MetricContext
from qa_harness.models.base import Animator, resolve_device
from qa_harness.packaged import suite_cache_dir
from qa_harness.pipeline import MetricPool, PoolSpec, worker_threads
from qa_harness.records import ClipOutcome, Pair, PairRecords
from qa_harness.runner import PairJob, evaluate_pair, pin_malloc_mmap_threshold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkSpec:
    """How to build a worker: model, metrics, device and the job's suite/run/batch/seed."""

    job: PairJob
    model: str
    checkpoint: Path | None = None
    model_options: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    device: str = "auto"
    pair_timeout: float | None = None  # seconds per pair (--pair-timeout); None: no limit
    metric_workers: int = 0  # metric worker processes (`qa_harness.pipeline`); 0: metrics in this process


def build_model(name: str, *, checkpoint: Path | None, device: torch.device, options: Mapping[str, Any]) -> Animator:
    """A registered model by name, or a user's own as 'package.module:factory' (either must make an Animator)."""
    try:
        return MODELS.build(name, checkpoint=checkpoint, device=device, **options)
    except QaHarnessError:
        raise
    except (Exception, SystemExit) as err:  # the user's factory, options or checkpoint: theirs to fix (exit 2)
        what = f"sys.exit({err.code!r})" if isinstance(err, SystemExit) else f"{type(err).__name__}: {err}"
        where = f" (checkpoint {checkpoint})" if checkpoint else ""
        raise QaHarnessError(f"model {name!r}: building it failed{where}: {what}") from err


@dataclass(frozen=True)
class MetricsInfo:
    """What the driver records about a worker's metrics: which could not be built, and each column's
    direction (so that the gate, compare and the report read directions from the run, not a registry)."""

    unavailable: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool | None] = field(default_factory=dict)  # None: descriptive column
    params: dict[str, str] = field(default_factory=dict)  # run params the metrics report (`Metric.run_params`)


#: Reasons already warned about in this process: a matrix or the demo builds a worker per run, and
#: one warning per absent file is enough (later ones go to the debug log).
_WARNED: set[str] = set()


def build_metrics(
    names: tuple[str, ...], ctx: MetricContext, options: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[list[Metric], dict[str, str]]:
    """Metrics by name, with `options[name]` over the catalog's; one whose weights are absent is reported
    unavailable, not fatal."""
    metrics, unavailable = [], {}
    for name in names:
        try:
            metrics.append(METRICS.build(name, ctx, **(options or {}).get(name, {})))
        except WeightsUnavailableError as err:
            level = logging.DEBUG if str(err) in _WARNED else logging.WARNING
            _WARNED.add(str(err))
            # the full reason (files, folders, how to install) is printed once, in the run's summary
            log.log(level, "metric %s unavailable (weights absent): the run goes on without it; see the summary", name)
            unavailable[name] = str(err)
    return metrics, unavailable


class Worker:
    """One model instance and its metrics on one device."""

    def __init__(self, spec: WorkSpec) -> None:
        self.spec = spec
        pin_malloc_mmap_threshold()
        self.device = resolve_device(spec.device)
        suite = spec.job.suite
        self.model = build_model(spec.model, checkpoint=spec.checkpoint, device=self.device, options=spec.model_options)
        cache = suite_cache_dir(suite.path)
        ctx = MetricContext(device=self.device, cache_dir=cache, suite_version=suite.version)
        self.metrics, unavailable = build_metrics(spec.metrics, ctx, suite.metric_options)
        directions = {c.name: c.higher_is_better for m in self.metrics for c in (*m.columns, *m.clip_columns)}
        params = {key: value for m in self.metrics for key, value in m.run_params().items()}
        self.info = MetricsInfo(unavailable, directions, params)
        self.pool = (
            MetricPool(
                PoolSpec(
                    spec.metrics,
                    spec.metric_workers,
                    worker_threads(spec.metric_workers),
                    cache,
                    suite.version,
                    suite.metric_options,
                )
            )
            if spec.metric_workers
            else None
        )
        if self.model.resolution not in (None, suite.resolution):
            log.warning(
                "model resolution %d differs from suite resolution %d; frames are decoded at the suite's",
                self.model.resolution,
                suite.resolution,
            )

    def evaluate(
        self, pair: Pair, on_frames: Callable[[int], None] = lambda n: None
    ) -> tuple[ClipOutcome, PairRecords | None]:
        start = time.perf_counter()
        try:
            with torch.inference_mode(), pair_deadline(self.spec.pair_timeout):
                return evaluate_pair(
                    pair, self.model, self.metrics, self.spec.job, self.device, on_frames=on_frames, pool=self.pool
                )
        except PairTimeout as err:
            log.warning("pair %r failed: %s", pair.id, err)
            return ClipOutcome(pair.id, "failed", 0, time.perf_counter() - start, error=str(err)), None

    def close(self) -> None:
        """End the metric workers, if any."""
        if self.pool is not None:
            self.pool.close()
