"""SIGTERM during an evaluation on Ray (a private local Ray instance in a real `qa-harness` subprocess).

Before: Ray's core worker took over SIGTERM, turned the `ray.wait` in progress into SystemExit(1) (exit
4 as an internal error, then SIGABRT at exit); with our handler put back, Ray still re-raises it as a
plain KeyboardInterrupt, so the exit code comes from the signal received (`exitcodes`), not the type.

Exit 143, the MLflow run KILLED, the pairs finished before the signal kept, and `--resume` completes the
run with the reference's records. Not in test_ray_executor.py: that module holds a Ray instance of its own.
"""

from __future__ import annotations

import signal

import pytest

from tests.faults.common import (
    CLIP_IDS,
    SLOW,
    assert_good_pairs_identical,
    cli,
    evaluate_args,
    mlflow_run,
    run_id_of,
    start,
    wait_for_pairs,
)

pytest.importorskip("ray")


@pytest.mark.slow
def test_sigterm_during_a_ray_evaluation_exits_143_killed_and_keeps_finished_pairs(fault_suite, reference, tmp_path):
    out, uri = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}"
    ray_args = ("--executor", "ray", "--workers", "1")
    proc = start(*evaluate_args(fault_suite, out, uri, SLOW), *ray_args, QA_TEST_DELAY="1")
    wait_for_pairs(out, 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "qa-harness: interrupted (received SIGTERM)" in err
    run_id = run_id_of(out)
    killed = mlflow_run(uri, run_id)
    assert killed.info.status == "KILLED" and "received SIGTERM" in killed.data.tags["qa_harness.error"]
    kept = {p.name: p.read_bytes() for p in (out / "pairs").glob("*.json")}
    assert 1 <= len(kept) < len(CLIP_IDS)
    resumed = cli(*evaluate_args(fault_suite, out, uri, SLOW), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert {name: (out / "pairs" / name).read_bytes() for name in kept} == kept  # not evaluated again
    assert run_id_of(out) == run_id and mlflow_run(uri, run_id).info.status == "FINISHED"
    assert_good_pairs_identical(out, reference, CLIP_IDS)
