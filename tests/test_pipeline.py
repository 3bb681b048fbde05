"""Metric workers (`qa_harness.pipeline`): real spawned processes, records equal to the serial path's."""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from qa_harness.cli import main
from qa_harness.errors import QaHarnessError
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.executors.worker import Worker, WorkSpec
from qa_harness.metrics.base import FrameBatch, MetricContext
from qa_harness.metrics.l1 import l1
from qa_harness.metrics.temporal import FIRST_FRAMES
from qa_harness.runner import PairJob
from qa_harness.runs.meta import RunMeta
from qa_harness.suites.manifest import load_suite
from tests.test_metric_isolation import Flaky

#: The default set, a metric that raises from frame 4 on, and a temporal one (scored in order, here).
METRICS = ("l1", "psnr", "ssim", "lpips", "tests.test_metric_isolation:build_flaky", "warp_error")


class Killer(Flaky):
    """l1 that kills its own metric worker (SIGKILL, a real crash) on frames 4-7 of pair d20."""

    name = "killer"

    def frame_values(self, batch: FrameBatch) -> dict[str, torch.Tensor]:
        in_worker = multiprocessing.parent_process() is not None
        if in_worker and batch.pair.id == "d20" and int(batch.frames[-1]) >= 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"flaky": l1(batch.output, batch.target)}


def build_killer(ctx: MetricContext) -> Killer:
    return Killer()


@pytest.fixture
def suite(write_suite):
    clips = [
        {"id": "d20", "path": "clips/d20.mp4", "tags": {"yaw": "frontal"}},
        {"id": "tpsmm", "path": "clips/tpsmm_driving.mp4", "tags": {"yaw": "moderate"}},
    ]
    return load_suite(
        write_suite({"name": "pipe", "resolution": 64, "max_frames": 14, "pairs": ["d20", "tpsmm"], "clips": clips})
    )


def _run(suite, tmp: Path, workers: int, metrics: tuple[str, ...] = METRICS) -> list[tuple]:
    """Every pair's (outcome without its time, records) through a `Worker` with `workers` metric workers."""
    job = PairJob(suite=suite, run_id="t", batch_size=4, seed=0, thumbs_dir=tmp / f"thumbs{workers}")
    worker = Worker(WorkSpec(job=job, model="identity", metrics=metrics, device="cpu", metric_workers=workers))
    try:
        results = [worker.evaluate(pair) for pair in suite.pairs]
    finally:
        worker.close()
    assert worker.pool is None or not worker.pool._procs  # closed: no process left behind
    return [(asdict(outcome) | {"seconds": 0}, records) for outcome, records in results]


def _thumbs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_records_equal_the_serial_path_for_one_and_two_workers(suite, tmp_path, with_seeded_weights):
    serial = _run(suite, tmp_path, 0)
    (outcome, records), _ = serial
    assert outcome["status"] == "ok" and outcome["frames"] == 14  # 3 batches of 4 and one of 2
    assert outcome["metric_errors"] == {"flaky": "frames 4-7: RuntimeError: landmarks not found on frame 4"}
    assert outcome["unscored"]["warp_error"][FIRST_FRAMES] == 1  # the temporal metric saw the batches in order
    assert np.isfinite(records.metrics["lpips"]).all() and np.isnan(records.metrics["flaky"]).all()
    for workers in (1, 2):
        pooled = _run(suite, tmp_path, workers)
        for (want, want_records), (got, got_records) in zip(serial, pooled, strict=True):
            assert repr(got) == repr(want)  # status, frames, clip values (exact reprs, NaN too), errors, unscored
            assert list(got_records.metrics) == list(want_records.metrics)
            for name, values in want_records.metrics.items():
                assert got_records.metrics[name].tobytes() == values.tobytes(), (workers, name)
        assert _thumbs(tmp_path / f"thumbs{workers}") == _thumbs(tmp_path / "thumbs0")


def test_a_killed_worker_fails_its_pair_by_name_and_the_next_pair_runs(suite, tmp_path):
    (failed, _), (ok, records) = _run(suite, tmp_path, 1, ("l1", "tests.test_pipeline:build_killer"))
    assert failed["status"] == "failed"
    assert (
        failed["error"].startswith("metric worker ")
        and "was killed by SIGKILL while scoring pair 'd20'" in (failed["error"])
    )
    assert ok["status"] == "ok" and not ok["metric_errors"]  # workers started afresh for tpsmm
    assert records.metrics["flaky"].tobytes() == records.metrics["l1"].tobytes()


def test_cli_metric_workers_is_a_run_param_and_changes_no_record(write_suite, tmp_path, tracking_uri):
    manifest = {"name": "cli", "resolution": 64, "max_frames": 6, "clips": [{"id": "d20", "path": "clips/d20.mp4"}]}
    suite = write_suite(manifest)
    frames = {}
    for workers in ("0", "2"):
        out = tmp_path / f"run{workers}"
        args = ["evaluate", "--suite", str(suite), "--model", "identity", "--metrics", "l1,ssim", "--batch-size", "4"]
        assert main([*args, "--metric-workers", workers, "--out", str(out), "--tracking-uri", tracking_uri]) == 0
        run_id = RunMeta.load(out / "run.json").mlflow_run_id
        assert MlflowClient(tracking_uri).get_run(run_id).data.params["metric_workers"] == workers
        frames[workers] = pd.read_parquet(out / "frames.parquet").drop(columns="run_id")
    pd.testing.assert_frame_equal(frames["2"], frames["0"], check_exact=True)
    with pytest.raises(QaHarnessError, match="--metric-workers 2: a count >= 0, for the local executor"):
        run_evaluation(EvalConfig(suite=suite, model="identity", executor="ray", metric_workers=2))
