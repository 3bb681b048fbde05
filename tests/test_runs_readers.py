"""The runs layer as its readers see it: the report's per-clip conditions and worst-clips ranking, and the
run's own files (summary.json, run.json) read back as typed values or refused with the file named."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from qa_harness.errors import QaHarnessError
from qa_harness.report.build import build_report
from qa_harness.runs.meta import RunMeta, RunSummary
from qa_harness.store import RunStore
from tests.helpers.runs import records


def _frames(values: dict[str, list[float]], gaps: dict[str, list[str]], run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"run_id": run_id, "pair_id": p, "frame": i, "metric:l1": v, "cond:pose_gap": gaps[p][i]}
            for p, vs in values.items()
            for i, v in enumerate(vs)
        ]
    )


def _row(html: str, pair_id: str) -> str:
    return re.search(rf"<tr><td class=\"t\">{pair_id}</td>.*?</tr>", html).group(0)


def test_report_lists_each_clip_under_its_condition_not_its_first_frame():
    """Every clip starts at pose gap `small` (its first frame is the source); clip a is mostly `large`."""
    gaps = {"a": ["small", "large", "large", "large"], "b": ["small"] * 4}
    run = records(_frames({"a": [0.1, 0.3, 0.3, 0.3], "b": [0.1] * 4}, gaps, "c"), l1=False)
    html = build_report(run)
    assert "pose_gap=large" in _row(html, "a") and "pose_gap=small" in _row(html, "b")


def test_report_ranks_worst_clips_on_paired_clips_and_names_the_unpaired():
    """Clip z has the worst l1 but no baseline value: the old ranking took the baseline as 0 and put it first."""
    gaps = {p: ["small"] * 2 for p in "xyz"}
    candidate = records(_frames({"x": [0.30, 0.30], "y": [0.20, 0.20], "z": [0.90, 0.90]}, gaps, "c"), l1=False)
    baseline = records(_frames({"x": [0.10, 0.10], "y": [0.19, 0.19]}, gaps, "b"), run_id="b", l1=False)
    html = build_report(candidate, baseline=baseline, worst_k=1)
    worst = html[html.index("Worst clips of the failing checks") : html.index("Per-clip distributions")]
    assert "worst clips overall by l1" in worst and "clip x: ranked by l1 on all: 0.3 (baseline 0.1)" in worst
    assert "not ranked, no baseline value: z" in worst and "clip z:" not in worst


def test_summary_round_trips_and_a_broken_one_is_an_error_naming_the_file(tmp_path):
    summary = RunSummary(
        "r1",
        suite="demo",
        counts={"clips/total": 2},
        higher_is_better={"l1": False, "ear": None},
        perf={"frames_per_second": 3.5, "peak_gpu_mb": None},
    )
    path = tmp_path / "summary.json"
    summary.save(path)
    assert RunSummary.load(path) == summary
    path.write_text('{"run_id": "r1", "higher_is_better": {"l1": fal')
    with pytest.raises(QaHarnessError, match=re.escape(f"{path}: not valid JSON")):
        RunSummary.load(path)
    path.write_text('{"run_id": "r1", "higher_is_better": {"l1": "lower"}}')
    with pytest.raises(QaHarnessError, match="'higher_is_better' values must be true, false or null"):
        RunSummary.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(QaHarnessError, match="expected a JSON object, got list"):
        RunSummary.load(path)


def test_a_broken_run_json_is_an_error_naming_the_file_on_resume(tmp_path):
    store = RunStore(tmp_path / "run")
    meta = store.open({"suite": "s", "seed": 0}, resume=False, overwrite=False)
    assert meta == RunMeta({"suite": "s", "seed": 0}) and RunMeta.load(store.out_dir / "run.json") == meta
    store.close()  # the run ends (releases the folder's lock); a later run reopens it
    (store.out_dir / "run.json").write_text('{"fingerprint": {"suite": "s"')
    with pytest.raises(QaHarnessError, match=re.escape(f"{store.out_dir / 'run.json'}: not valid JSON")):
        store.open({"suite": "s", "seed": 0}, resume=True, overwrite=False)
    store.close()


def test_load_run_refuses_a_broken_summary_artifact(tmp_path):
    """A real MLflow store: the summary.json artifact is cut short; reading the run names run and artifact."""
    from mlflow.tracking import MlflowClient

    from qa_harness.runs.mlflow_io import load_run

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    records_dir, top = tmp_path / "records", tmp_path / "top"
    records_dir.mkdir(), top.mkdir()
    _frames({"a": [0.1]}, {"a": ["small"]}, run_id).to_parquet(records_dir / "frames.parquet")
    (top / "summary.json").write_text('{"higher_is_better": ')
    client.log_artifacts(run_id, str(records_dir), artifact_path="records")
    client.log_artifact(run_id, str(top / "summary.json"))
    client.set_terminated(run_id, "FINISHED")  # the gate reads FINISHED runs only
    with pytest.raises(QaHarnessError, match=rf"run {run_id} \({run_id}\), artifact summary.json: not valid JSON"):
        load_run(client, run_id)
    unsummarised = client.create_run(client.get_experiment_by_name("e").experiment_id).info.run_id
    client.log_artifacts(unsummarised, str(records_dir), artifact_path="records")
    client.set_terminated(unsummarised, "FINISHED")
    run = load_run(client, unsummarised)  # no summary at all (an interrupted run): records, no directions
    assert np.isclose(run.frames["metric:l1"].iat[0], 0.1) and run.higher_is_better == {}


def test_a_pair_reads_back_typed_as_the_writer_wrote_it(tmp_path):
    """Writer -> run folder (`RunStore`, Parquet) -> `RunRecords.pair`: the same columns bit for bit, the clip
    values, per-metric status (a reason with ': ' inside kept whole) and a failed pair without frames."""
    from qa_harness.records import ClipOutcome, PairRecords
    from qa_harness.runs.records import OK, RunRecords

    rng = np.random.default_rng(0)
    written = {
        "a": PairRecords(
            "r",
            "s",
            "v",
            "a",
            "reconstruction",
            np.arange(4),
            {"l1": rng.random(4), "ssim": rng.random(4)},
            {"yaw": ("frontal",) * 4, "light": ("dim", None, "dim", None)},
        ),
        "b": PairRecords(
            "r",
            "s",
            "v",
            "b",
            "cross",
            np.arange(2, 5),
            {"l1": np.array([0.5, np.nan, 0.25]), "ssim": rng.random(3)},
            {"yaw": ("side",) * 3},
        ),
    }
    why = "frames 4-7: RuntimeError: no face: frame 4"
    outcomes = {
        "a": ClipOutcome("a", "ok", 4, 1.0, clip_metrics={"blink_f1": 0.5}),
        "b": ClipOutcome(
            "b", "ok", 3, 1.0, clip_metrics={"blink_f1": np.nan}, metric_errors={"ear_mar": why, "akd": "x"}
        ),
        "c": ClipOutcome("c", "failed", 0, 0.1, error="decode: bad file"),
    }
    store = RunStore(tmp_path / "run")
    store.open({}, resume=False, overwrite=False)
    for pid, outcome in outcomes.items():
        store.save_pair(outcome, written.get(pid))
    frames, clips = store.gather(["a", "b", "c"], store.finished())
    store.close()
    run = RunRecords("r", "r", "s", "v", pd.read_parquet(tmp_path / "run" / "frames.parquet"), clips)
    assert run.pair_ids() == ["a", "b", "c"] and [p.pair_id for p in run.pairs()] == ["a", "b", "c"]
    for pid, original in written.items():
        got = run.pair(pid).records
        assert (got.pair_id, got.protocol, got.run_id) == (original.pair_id, original.protocol, original.run_id)
        assert got.frames.dtype == np.int64 and got.frames.tolist() == original.frames.tolist()
        assert {m: v.tobytes() for m, v in got.metrics.items()} == {m: v.tobytes() for m, v in original.metrics.items()}
        assert got.conditions == original.conditions  # b has no `light`: the run's column is left out for it
    a, b, c = run.pair("a"), run.pair("b"), run.pair("c")
    assert a.clip_metrics == {"blink_f1": 0.5} and np.isnan(b.clip_metrics["blink_f1"])
    assert a.metric_status("ear_mar") == OK and b.metric_errors == {"ear_mar": why, "akd": "x"}
    assert b.metric_status("ear_mar") == why and b.metric_status("l1") == OK
    assert c.records is None and c.metric_status("l1") == "pair failed: decode: bad file"
    with pytest.raises(QaHarnessError, match="run r has no pair 'd'"):
        run.pair("d")
