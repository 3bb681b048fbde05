"""Writer side: records stay columns from the runner to Parquet, and a metric that raises fails alone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from qa_harness.cli import main
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext
from qa_harness.metrics.l1 import build as build_l1
from qa_harness.metrics.l1 import l1
from qa_harness.models.baselines import identity
from qa_harness.records import Clip, Pair, PairRecords
from qa_harness.report.build import build_report
from qa_harness.runner import PairJob, evaluate_pair
from qa_harness.runs.meta import RunMeta
from qa_harness.runs.mlflow_io import client_for, load_run
from qa_harness.suites.manifest import load_suite

SMALL = {"resolution": 64, "max_frames": 8}


class Flaky(Metric):
    """l1 under another name that raises from frame 4 on (the second batch of 4): a metric bug on one frame."""

    name = "flaky"
    columns = (Column("flaky", higher_is_better=False),)
    clip_columns = (Column("flaky_mean", higher_is_better=False),)

    def frame_values(self, batch: FrameBatch) -> dict[str, torch.Tensor]:
        if int(batch.frames[-1]) >= 4:
            raise RuntimeError("landmarks not found on frame 4")
        return {"flaky": l1(batch.output, batch.target)}

    def clip_values(self, per_frame) -> dict[str, float]:
        return {"flaky_mean": float(np.mean(per_frame["flaky"]))}


@pytest.fixture
def suite(write_suite):
    return write_suite(
        {
            "name": "iso",
            **SMALL,
            "pairs": ["d20", "tpsmm"],
            "clips": [
                {"id": "d20", "path": "clips/d20.mp4", "tags": {"yaw": "frontal"}},
                {"id": "tpsmm", "path": "clips/tpsmm_driving.mp4", "tags": {"yaw": "moderate"}},
            ],
        }
    )


def test_a_failing_metric_is_nan_with_its_reason_and_the_others_are_unchanged(suite):
    loaded = load_suite(suite)
    job, cpu, pair = PairJob(suite=loaded, run_id="t", batch_size=4, seed=0), torch.device("cpu"), loaded.pairs[0]
    l1_metric = build_l1(MetricContext(device=cpu))
    alone, alone_records = evaluate_pair(pair, identity(), [l1_metric], job, cpu)
    outcome, records = evaluate_pair(pair, identity(), [Flaky(), l1_metric], job, cpu)
    assert outcome.status == "ok" and outcome.frames == 8 and not outcome.error
    assert outcome.metric_errors == {"flaky": "frames 4-7: RuntimeError: landmarks not found on frame 4"}
    assert np.isnan(records.metrics["flaky"]).all()  # frames 0-3 were scored, but a partial clip is not kept
    assert np.isnan(outcome.clip_metrics["flaky_mean"])
    assert records.metrics["l1"].tobytes() == alone_records.metrics["l1"].tobytes() and not alone.metric_errors
    assert list(records.metrics) == ["flaky", "l1"]  # metric order, as without a failure


def build_flaky(ctx: MetricContext) -> Flaky:
    return Flaky()


def test_evaluate_keeps_the_pair_exits_0_and_shows_the_failure(suite, tmp_path, capsys):
    out = tmp_path / "run"
    metrics = "l1,tests.test_metric_isolation:build_flaky"  # a user's own metric, by module:attr
    code = main(
        [
            "evaluate",
            "--suite",
            str(suite),
            "--model",
            "identity",
            "--metrics",
            metrics,
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
        ]
    )
    assert code == 0  # not 3: no pair failed
    printed = capsys.readouterr().out
    assert "2/2 pairs ok" in printed and "metric flaky failed on d20 (its values are NaN; the pair is kept)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["clips/failed"] == 0 and set(summary["metric_errors"]) == {"d20", "tpsmm"}
    clips = pd.read_parquet(out / "clips.parquet")
    assert list(clips["status"]) == ["ok", "ok"] and clips["metric_errors"].str.startswith("flaky: frames 4-7").all()
    frames = pd.read_parquet(out / "frames.parquet")
    assert frames["metric:flaky"].isna().all() and frames["metric:l1"].notna().all() and len(frames) == 16
    run = load_run(client_for(f"sqlite:///{tmp_path / 'mlflow.db'}"), RunMeta.load(out / "run.json").mlflow_run_id)
    assert run.metric_errors()["tpsmm"].startswith("flaky: frames 4-7: RuntimeError")
    pair = run.pair("tpsmm")  # the same, typed: per-metric status and the pair's columns
    assert pair.metric_status("flaky").startswith("frames 4-7: RuntimeError") and pair.metric_status("l1") == "ok"
    assert (
        pair.records.metrics["l1"].tobytes()
        == frames.loc[frames["pair_id"] == "tpsmm", "metric:l1"].to_numpy().tobytes()
    )
    assert "2 clip(s), those metrics NaN there: d20: flaky: frames 4-7" in build_report(run)


def test_pair_records_give_the_row_by_row_layout(tmp_path):
    """Reference: the table built one row per frame, as the store did before (dict per frame, then DataFrame)."""
    clip = Clip(id="c", path=tmp_path / "c.mp4", fps=25.0, frame_count=3, size=(64, 64), tags={"pose": "frontal"})
    pair = Pair("c", clip, clip, "reconstruction", frame_tags=({"light": "dim"}, {}, {"pose": "side", "gap": "large"}))
    metrics = {"l1": np.array([0.1, 0.2, np.nan], dtype=np.float32), "ssim": np.array([0.9, 0.8, 0.7])}
    from qa_harness.runner import _conditions

    records = PairRecords("r", "s", "v", "c", "reconstruction", np.arange(3), metrics, _conditions(pair, 3))
    rows = [
        {
            "run_id": "r",
            "suite": "s",
            "suite_version": "v",
            "pair_id": "c",
            "protocol": "reconstruction",
            "frame": i,
            **{f"metric:{k}": float(v[i]) for k, v in metrics.items()},
            **{f"cond:{k}": str(v) for k, v in pair.frame_conditions(i).items()},
        }
        for i in range(3)
    ]
    reference = pd.DataFrame(rows)
    table = records.to_frame()
    pd.testing.assert_frame_equal(table, reference)
    assert list(table.columns)[-3:] == ["cond:pose", "cond:light", "cond:gap"] and table["cond:gap"].isna().sum() == 2
    back = pd.read_parquet(_written(table, tmp_path))
    pd.testing.assert_frame_equal(back, pd.read_parquet(_written(reference, tmp_path)))


def _written(table: pd.DataFrame, folder) -> str:
    path = folder / f"t{len(list(folder.iterdir()))}.parquet"
    table.to_parquet(path, index=False)
    return str(path)


def test_frame_batch_source_is_one_image():
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"FrameBatch.source must be one \(3, H, W\) image, got shape \(1, 3, 8, 8\)"):
        FrameBatch(pair=None, frames=torch.arange(2), output=x, driving=x, source=x[:1], target=x)
