"""`qa-harness evaluate`: suite -> model -> runner -> records -> aggregate -> MLflow, resumable.

This module wires the stages together; each stage lives in its own module (suites.manifest, runner,
store, aggregate, tracking) and knows nothing of the others' internals.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from qa_harness import __version__, tracking
from qa_harness.catalog import DEFAULT_CROSS_METRICS, DEFAULT_METRICS, EXECUTORS, METRICS
from qa_harness.errors import QaHarnessError, storage_errors
from qa_harness.executors.worker import MetricsInfo, WorkSpec
from qa_harness.models.base import resolve_device
from qa_harness.records import ClipOutcome, PairRecords, RunResult, Suite
from qa_harness.runner import PairJob
from qa_harness.runs.meta import RunMeta, RunSummary
from qa_harness.runs.records import RunRecords
from qa_harness.runs.table import condition_table
from qa_harness.store import RunStore
from qa_harness.suites.hashing import file_sha256
from qa_harness.suites.manifest import load_suite
from qa_harness.summary import unscored_totals
from qa_harness.thumbs import THUMBS_ARTIFACT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: what to run, where to write, how to log."""

    suite: Path
    model: str
    checkpoint: Path | None = None
    model_options: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    batch_size: int = 16
    seed: int = 0
    metrics: tuple[str, ...] = ()
    out_dir: Path | None = None
    resume: bool = False
    overwrite: bool = False
    tracking_uri: str | None = None
    experiment: str = tracking.DEFAULT_EXPERIMENT
    run_name: str | None = None
    executor: str = "local"
    executor_options: Mapping[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None  # an MLflow run this one is nested under (a matrix's)
    progress: bool | None = None  # None: a bar only on a terminal
    retry_failed: bool = False  # with resume: failed pairs are evaluated again
    pair_timeout: float | None = None  # seconds per pair; None: no limit
    metric_workers: int = 0  # metric worker processes (local executor); 0: metrics inline (`qa_harness.pipeline`)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def _fingerprint(cfg: EvalConfig, suite: Suite, metric_names: tuple[str, ...], checkpoint_sha: str) -> dict:
    return {
        "suite": suite.name,
        "suite_version": suite.version,
        "model": cfg.model,
        "checkpoint_sha256": checkpoint_sha,
        "model_options": dict(sorted(cfg.model_options.items())),
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "metrics": list(metric_names),
    }


def with_cross_defaults(names: tuple[str, ...], suite: Suite) -> tuple[str, ...]:
    """`names` plus DEFAULT_CROSS_METRICS when the suite has cross pairs (which reference metrics skip)."""
    if not any(p.protocol == "cross" for p in suite.pairs):
        return tuple(names)
    return tuple(dict.fromkeys((*names, *DEFAULT_CROSS_METRICS)))


def run_evaluation(cfg: EvalConfig, *, suite: Suite | None = None) -> RunResult:
    """Evaluate `cfg.model` on `cfg.suite`; finished pairs of an interrupted run are kept with --resume.

    `suite`: `cfg.suite` already loaded, so several runs on one suite (a matrix) hash its media once.
    """
    if cfg.checkpoint is not None and not Path(cfg.checkpoint).is_file():
        raise QaHarnessError(f"{cfg.checkpoint}: --checkpoint: no such file")
    suite = suite or load_suite(cfg.suite)
    metric_names = cfg.metrics or with_cross_defaults(suite.metrics or DEFAULT_METRICS, suite)
    for name in metric_names:
        METRICS.get(name)  # unknown names fail before any work
    if cfg.metric_workers < 0 or (cfg.metric_workers and cfg.executor != "local"):
        raise QaHarnessError(
            f"--metric-workers {cfg.metric_workers}: a count >= 0, for the local executor (not {cfg.executor!r})"
        )
    executor = EXECUTORS.build(cfg.executor, **cfg.executor_options)  # so does a missing optional dependency
    device = resolve_device(cfg.device)
    checkpoint_sha = file_sha256(cfg.checkpoint) if cfg.checkpoint else ""
    out_dir = cfg.out_dir or Path("qa_runs") / f"{_slug(suite.name)}__{_slug(cfg.model)}"
    store = RunStore(out_dir)
    meta = store.open(
        _fingerprint(cfg, suite, metric_names, checkpoint_sha), resume=cfg.resume, overwrite=cfg.overwrite
    )
    try:  # the folder's lock is held until the run ends, however it ends
        return _tracked(cfg, suite, store, meta, metric_names, device, executor, checkpoint_sha)
    finally:
        store.close()


def _tracked(
    cfg: EvalConfig,
    suite: Suite,
    store: RunStore,
    meta: dict[str, Any],
    metric_names: tuple[str, ...],
    device: torch.device,
    executor: Any,
    checkpoint_sha: str,
) -> RunResult:
    """Create (or reopen) the MLflow run, evaluate, and end the run FINISHED, FAILED or KILLED."""
    uri = cfg.tracking_uri or tracking.default_tracking_uri()
    params = {
        "model": cfg.model,
        "checkpoint": cfg.checkpoint,
        "checkpoint_sha256": checkpoint_sha,
        "suite": suite.name,
        "suite_version": suite.version,
        "harness_version": __version__,
        "device": str(device),
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "metrics": ",".join(metric_names),
        "executor": cfg.executor,
        "metric_workers": cfg.metric_workers,
        **{f"model_option.{k}": v for k, v in cfg.model_options.items()},
        **tracking.metric_option_params(metric_names, suite.metric_options),
    }
    old_run = store.replaced.mlflow_run_id if store.replaced else None
    with tracking.tracking_errors(uri):
        if old_run:  # ended before the new run starts: a killed run must not stay RUNNING for ever
            tracking.end_overwritten(tracking_uri=uri, run_id=old_run, out_dir=store.out_dir)
        run_id = tracking.start_run(
            tracking_uri=uri,
            experiment=cfg.experiment,
            run_name=cfg.run_name or f"{suite.name}/{cfg.model}",
            params=params,
            suite=suite,
            resume_run_id=meta.mlflow_run_id,
            parent_run_id=cfg.parent_run_id,
        )
        if old_run:
            tracking.end_overwritten(tracking_uri=uri, run_id=old_run, out_dir=store.out_dir, by=run_id)
    meta = replace(meta, mlflow_run_id=run_id)
    with storage_errors(store.out_dir):
        store.write_meta(meta)
    try:
        with storage_errors(store.out_dir):
            result = _run(cfg, suite, store, meta, run_id, uri, metric_names, device, executor)
    except BaseException as err:
        try:
            tracking.mark_ended(tracking_uri=uri, run_id=run_id, **tracking.end_state(err))
        except Exception as mark_err:  # the store itself may be what failed; the original error matters more
            log.error("could not mark MLflow run %s as ended: %s", run_id, mark_err)
        raise
    return result


def _run(
    cfg: EvalConfig,
    suite: Suite,
    store: RunStore,
    meta: RunMeta,
    run_id: str,
    uri: str,
    metric_names: tuple[str, ...],
    device: torch.device,
    executor: Any,
) -> RunResult:
    spec = WorkSpec(
        job=PairJob(
            suite=suite,
            run_id=run_id,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            thumbs_dir=store.out_dir / THUMBS_ARTIFACT,
        ),
        model=cfg.model,
        checkpoint=cfg.checkpoint,
        model_options=dict(cfg.model_options),
        metrics=metric_names,
        device=cfg.device,
        pair_timeout=cfg.pair_timeout,
        metric_workers=cfg.metric_workers,
    )
    done = store.finished()
    if cfg.retry_failed:
        retry = [pid for pid, o in done.items() if o.status == "failed"]
        meta = replace(meta, retried=(*meta.retried, {"at": time.time(), "pairs": retry}))
        store.write_meta(meta)
        done = {pid: o for pid, o in done.items() if o.status != "failed"}
        log.info("retrying %d failed pairs", len(retry))
    todo = [p for p in suite.pairs if p.id not in done]
    if done:
        log.info("resuming: %d of %d pairs already finished", len(done), len(suite.pairs))
    expected = sum(suite.frames_of(p) for p in todo)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started, frames, finished = time.perf_counter(), 0, len(done)

    def on_result(outcome: ClipOutcome, records: PairRecords | None) -> None:
        nonlocal frames, finished
        store.save_pair(outcome, records)
        frames, finished = frames + outcome.frames, finished + 1
        bar.set_postfix_str(f"pairs {finished}/{len(suite.pairs)}")

    show = None if cfg.progress is None else not cfg.progress
    with tqdm(total=expected, unit="frame", disable=show, desc=suite.name) as bar:
        info = executor.run(todo, spec, on_result=on_result, on_frames=bar.update)
    elapsed = time.perf_counter() - started
    if info != MetricsInfo():  # kept for a resumed run whose executor had nothing left to build
        store.write_meta(replace(meta, metrics_info=asdict(info)))
    else:
        info = MetricsInfo(**(meta.metrics_info or {}))
    return _finish(
        cfg, suite, store, run_id, uri, info, device, frames / elapsed if elapsed else 0.0, retried=meta.retried
    )


def _finish(
    cfg: EvalConfig,
    suite: Suite,
    store: RunStore,
    run_id: str,
    uri: str,
    info: MetricsInfo,
    device: torch.device,
    fps: float,
    retried: tuple[Mapping[str, Any], ...],
) -> RunResult:
    done = store.finished()
    frames, clips = store.gather([p.id for p in suite.pairs], done)
    records = RunRecords(
        run_id=run_id,
        name=cfg.run_name or f"{suite.name}/{cfg.model}",
        suite=suite.name,
        suite_version=suite.version,
        frames=frames,
        clips=clips,
        higher_is_better=info.higher_is_better,
    )
    table = condition_table(records, seed=cfg.seed)
    outcomes = tuple(done[p.id] for p in suite.pairs)
    failed = [o for o in outcomes if o.status == "failed"]
    summary = RunSummary(
        run_id=run_id,
        suite=suite.name,
        suite_version=suite.version,
        model=cfg.model,
        counts={
            "clips/total": len(outcomes),
            "clips/failed": len(failed),
            "frames/total": len(frames),
            "clips/output_out_of_range": sum(1 for o in outcomes if o.output_out_of_range),
        },
        failed={o.pair_id: o.error for o in failed},
        unavailable_metrics=info.unavailable,
        metric_errors={o.pair_id: dict(o.metric_errors) for o in outcomes if o.metric_errors},
        higher_is_better=info.higher_is_better,
        retried=retried,
        output_out_of_range={o.pair_id: o.output_out_of_range for o in outcomes if o.output_out_of_range},
        unscored=unscored_totals(outcomes),
        metric_params=info.params,
        perf={
            "frames_per_second": fps,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
        },
    )
    table.save(store.out_dir / "aggregate.csv")
    summary.save(store.out_dir / "summary.json")
    with tracking.tracking_errors(uri):
        tracking.finish_run(
            tracking_uri=uri,
            run_id=run_id,
            table=table,
            summary=summary,
            files=[
                ("records", store.out_dir / "frames.parquet"),
                ("records", store.out_dir / "clips.parquet"),
                ("", store.out_dir / "summary.json"),
                ("", store.out_dir / "aggregate.csv"),
                *([(THUMBS_ARTIFACT, thumbs)] if (thumbs := store.out_dir / THUMBS_ARTIFACT).is_dir() else []),
            ],
        )
    return RunResult(
        run_id=run_id,
        out_dir=store.out_dir,
        records_path=store.out_dir / "frames.parquet",
        outcomes=outcomes,
        table=table,
        summary=summary,
    )
