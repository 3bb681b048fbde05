"""The Ray executor on a real local Ray instance: same records as local, killed workers, poison pairs, matrix.

One Ray instance (2 CPUs, no dashboard) serves the whole module; the executor and the matrix reuse a
connection that is already open, so nothing here starts a second one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.matrix import load_matrix, run_matrix
from qa_harness.store import RunStore

pytestmark = pytest.mark.slow  # Ray

ray = pytest.importorskip("ray")

CLIPS = ("d20", "tpsmm_driving", "vrt_face5", "lp_d11", "d12", "lp_s32")
NOISY = "tests.helpers.models:noisy"


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _suite(write_suite, clips=CLIPS[:4], cross: bool = False) -> Path:
    return write_suite(
        {
            "name": "ray",
            "resolution": 32,
            "max_frames": 6,
            "clips": [
                {"id": c, "path": f"clips/{c}.mp4", "tags": {"yaw": ("frontal", "moderate")[i % 2]}}
                for i, c in enumerate(clips)
            ]
            + [{"id": "photo", "path": "photos/lp_s1.jpg"}],
            "pairs": list(clips) + ([{"source": "photo", "driving": clips[0]}] if cross else []),
        }
    )


def _evaluate(suite: Path, out: Path, uri: str, *, model: str = NOISY, executor: str = "local", **kw):
    return run_evaluation(
        EvalConfig(
            suite=suite,
            model=model,
            out_dir=out,
            tracking_uri=uri,
            batch_size=2,
            seed=7,
            progress=False,
            executor=executor,
            **kw,
        )
    )


def _frames(result) -> pd.DataFrame:
    return pd.read_parquet(result.records_path).drop(columns=["run_id"])


def _scores(uri: str, run_id: str) -> dict[str, float]:
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    return {k: v for k, v in metrics.items() if not k.startswith("perf/")}


def test_ray_records_identical_to_local_and_resume_across_executors(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite, cross=True)
    local = _evaluate(suite, tmp_path / "local", tracking_uri)
    remote = _evaluate(suite, tmp_path / "ray", tracking_uri, executor="ray", executor_options={"workers": 2})
    assert [o.status for o in remote.outcomes] == ["ok"] * 5
    pd.testing.assert_frame_equal(_frames(remote), _frames(local))
    recon = _frames(local).query("protocol == 'reconstruction'")
    assert len(recon) == 24 and recon["metric:l1"].gt(0).all()  # noisy output: the seeds matter
    clips = lambda r: pd.read_parquet(r.out_dir / "clips.parquet").drop(columns=["seconds"])  # noqa: E731
    pd.testing.assert_frame_equal(clips(remote), clips(local))
    assert _scores(tracking_uri, remote.run_id) == _scores(tracking_uri, local.run_id)
    run = MlflowClient(tracking_uri).get_run(remote.run_id)
    assert run.info.status == "FINISHED" and run.data.params["executor"] == "ray"

    # a local run interrupted after 3 of 5 pairs, resumed on Ray: only the 2 missing pairs are evaluated
    out = tmp_path / "resumed"
    shutil.copytree(local.out_dir, out)
    store = RunStore(out)
    for pair_id in ("vrt_face5", "photo->d20"):
        for suffix in (".json", ".parquet"):
            (store.pairs_dir / f"{store.key(pair_id)}{suffix}").unlink(missing_ok=True)
    kept = {p: p.stat().st_mtime_ns for p in store.pairs_dir.iterdir()}
    resumed = _evaluate(suite, out, tracking_uri, executor="ray", executor_options={"workers": 2}, resume=True)
    pd.testing.assert_frame_equal(_frames(resumed), _frames(local))
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert len(list(store.pairs_dir.glob("*.json"))) == 5 and resumed.run_id == local.run_id
    # resumed with nothing left to do: no worker is built; the directions recorded earlier are kept
    again = _evaluate(suite, out, tracking_uri, executor="ray", executor_options={"workers": 2}, resume=True)
    directions = lambda r: json.loads((r.out_dir / "summary.json").read_text())["higher_is_better"]  # noqa: E731
    assert directions(again) == directions(remote) == directions(local) and directions(local)["l1"] is False


def _kill_one_worker_mid_run(out: Path, pid_dir: Path, killed: list[int]) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        pids = sorted(int(p.name) for p in pid_dir.iterdir())
        if len(pids) == 2 and list((out / "pairs").glob("*.json")):
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
            return
        time.sleep(0.05)


def test_killed_worker_has_its_pair_retried_and_nothing_is_lost(write_suite, tmp_path, tracking_uri, caplog):
    suite = _suite(write_suite, clips=CLIPS)
    reference = _evaluate(suite, tmp_path / "ref", tracking_uri)
    pid_dir, out, killed = tmp_path / "pids", tmp_path / "killed", []
    pid_dir.mkdir()
    killer = threading.Thread(target=_kill_one_worker_mid_run, args=(out, pid_dir, killed))
    killer.start()
    with caplog.at_level(logging.WARNING, logger="qa_harness.executors.ray"):
        result = _evaluate(
            suite,
            out,
            tracking_uri,
            model="tests.helpers.models:noisy_pid",
            executor="ray",
            model_options={"pid_dir": str(pid_dir)},
            executor_options={"workers": 2, "env": {"QA_TEST_DELAY": "0.3"}},
        )
    killer.join()
    assert killed, "no worker was killed"
    assert "a Ray worker died while evaluating pair" in caplog.text  # the kill landed mid-pair
    assert len(list(pid_dir.iterdir())) == 3  # the dead actor was replaced by a new one
    assert [o.status for o in result.outcomes] == ["ok"] * 6
    pd.testing.assert_frame_equal(_frames(result), _frames(reference))


def test_pair_that_kills_its_worker_every_time_fails_after_max_attempts(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite, clips=CLIPS[:2], cross=True)
    result = _evaluate(
        suite,
        tmp_path / "poison",
        tracking_uri,
        model="tests.helpers.models:exit_on_cross",
        executor="ray",
        executor_options={"workers": 2, "max_attempts": 2},
    )
    status = {o.pair_id: o.status for o in result.outcomes}
    assert status == {"d20": "ok", "tpsmm_driving": "ok", "photo->d20": "failed"}
    assert "died on each of 2 attempts" in result.failed[0].error
    frames = _frames(result)
    assert set(frames["pair_id"]) == {"d20", "tpsmm_driving"} and (frames["metric:l1"] == 0).all()
    assert MlflowClient(tracking_uri).get_run(result.run_id).data.metrics["clips/failed"] == 1


def test_matrix_creates_parent_and_child_runs(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite, clips=CLIPS[:2])
    matrix_file = tmp_path / "matrix.yaml"
    matrix_file.write_text(
        yaml.safe_dump(
            {
                "name": "sweep",
                "suite": suite.name,
                "seed": 7,
                "batch_size": 2,
                "metrics": ["l1", "psnr"],
                "executor": {"workers": 2},
                "runs": [
                    {"name": "sigma-05", "model": NOISY},
                    {"name": "sigma-20", "model": NOISY, "options": {"sigma": 0.2}},
                ],
            }
        )
    )
    result = run_matrix(load_matrix(matrix_file), out=tmp_path / "m", tracking_uri=tracking_uri, progress=False)

    client = MlflowClient(tracking_uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["qa_harness.kind"] == "matrix"
    assert parent.info.run_name == "sweep"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert set(by_name) == {"sweep/sigma-05", "sweep/sigma-20"}
    assert all(c.info.status == "FINISHED" and c.data.tags["qa_harness.kind"] == "evaluation" for c in children)
    assert by_name["sweep/sigma-20"].data.params["model_option.sigma"] == "0.2"
    l1 = {name: c.data.metrics["l1"] for name, c in by_name.items()}
    assert l1["sweep/sigma-20"] > 2 * l1["sweep/sigma-05"] > 0

    local = client.download_artifacts(result.parent_run_id, "comparison.csv", str(tmp_path / "dl"))
    table = pd.read_csv(local).set_index("run")
    assert table.loc["sigma-05", "l1"] == pytest.approx(l1["sweep/sigma-05"])
    assert table.loc["sigma-20", "run_id"] == by_name["sweep/sigma-20"].info.run_id
    assert {a.path for a in client.list_artifacts(result.parent_run_id)} == {"comparison.csv", "matrix.yaml"}
    # a child is an ordinary evaluation: the same records as evaluating that model on its own
    alone = _evaluate(suite, tmp_path / "alone", tracking_uri, metrics=("l1", "psnr"))
    pd.testing.assert_frame_equal(_frames(result.results["sigma-05"]), _frames(alone))


def test_model_that_cannot_be_built_fails_the_run_with_its_message(write_suite, tmp_path, tracking_uri):
    from qa_harness.errors import QaHarnessError

    with pytest.raises(QaHarnessError, match="Ray worker could not build model 'fom': Unknown model 'fom'"):
        _evaluate(
            _suite(write_suite, clips=CLIPS[:1]),
            tmp_path / "x",
            tracking_uri,
            model="fom",
            executor="ray",
            executor_options={"workers": 1},
        )
    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("qa_harness").experiment_id])
    assert run.info.status == "FAILED" and "Unknown model 'fom'" in run.data.tags["qa_harness.error"]


def test_pair_timeout_is_honoured_on_ray_workers(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite, clips=CLIPS[:2])
    result = _evaluate(
        suite,
        tmp_path / "timeout",
        tracking_uri,
        model="tests.faults.plugins:faulty",
        model_options={"behaviour": "hangs", "bad": "tpsmm_driving"},
        executor="ray",
        executor_options={"workers": 2},
        pair_timeout=2.0,
    )  # before: refused with --executor ray, ignored with --matrix (which runs on Ray)
    assert {o.pair_id: o.status for o in result.outcomes} == {"d20": "ok", "tpsmm_driving": "failed"}
    (failed,) = result.failed
    assert failed.error == "pair ran past --pair-timeout 2 s" and 2.0 <= failed.seconds < 10.0
