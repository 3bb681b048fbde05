"""Concurrent jobs on one run folder: the folder's lock lets exactly one live run touch it.

Real processes: two `qa-harness evaluate` subprocesses, and `kill -9` for a stale lock. A live run is
held mid-run by `QA_TEST_HOLD` (see plugins.py) for as long as the test needs it live.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.faults.common import (
    CLIP_IDS,
    SLOW,
    assert_good_pairs_identical,
    cli,
    error_line,
    evaluate_args,
    mlflow_run,
    run_id_of,
    start,
    stop,
    wait_for,
    wait_for_pairs,
)


def test_two_runs_started_together_one_is_refused(fault_suite, reference, tmp_path):
    out, uri, hold = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "go"
    procs = [start(*evaluate_args(fault_suite, out, uri, SLOW), QA_TEST_HOLD=str(hold)) for _ in range(2)]
    try:  # f8bed04: both pass the check-then-create and run; here the second is refused while the first holds
        wait_for(lambda: any(p.poll() is not None for p in procs), "one of the two runs to be refused")
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        _, err = loser.communicate()
        assert loser.returncode == 2 and f"in use by a live run (pid {winner.pid} on" in err, err
        hold.touch()
        _, err = winner.communicate(timeout=300)
        assert winner.returncode == 0, err
    finally:
        for p in procs:
            stop(p)
    assert_good_pairs_identical(out, reference, CLIP_IDS)


@pytest.fixture
def live_run(fault_suite, tmp_path):
    """(out, uri, process) of a run held after its first batch until the test releases it."""
    out, uri, hold = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "go"
    live = start(*evaluate_args(fault_suite, out, uri, SLOW), QA_TEST_HOLD=str(hold))
    try:
        wait_for(lambda: (out / "run.json").exists() and run_id_of(out), "the live run's MLflow run", live)
        yield out, uri, live, hold
    finally:
        hold.touch()
        stop(live)


def test_a_live_run_cannot_be_joined_resumed_or_overwritten(fault_suite, reference, live_run):
    out, uri, live, hold = live_run
    for mode in ([], ["--resume"], ["--overwrite"]):
        other = cli(*evaluate_args(fault_suite, out, uri, "identity"), *mode)
        assert other.returncode == 2, other.stderr
        line = error_line(other)  # f8bed04: --overwrite wiped the folder; the live run wrote the other's rows
        action = {"--resume": "resume it", "--overwrite": "overwrite it"}.get(" ".join(mode), "start a run in it")
        assert f"{out}: cannot {action}: the folder is in use by a live run (pid {live.pid} on" in line
    assert live.poll() is None, "the live run must still be running"
    hold.touch()
    _, err = live.communicate(timeout=300)
    assert live.returncode == 0, err
    assert_good_pairs_identical(out, reference, CLIP_IDS)
    assert mlflow_run(uri, run_id_of(out)).data.params["model"] == SLOW


def test_the_lock_of_a_killed_run_is_stale_and_resume_takes_it_over(fault_suite, reference, tmp_path):
    out, uri = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}"
    killed = start(*evaluate_args(fault_suite, out, uri, SLOW), QA_TEST_DELAY="0.5")
    wait_for_pairs(out, 1, killed)
    stop(killed, signal.SIGKILL)
    assert f'"pid": {killed.pid}' in (out / ".lock").read_text()  # the dead owner's record is left behind
    started = time.time()
    resumed = cli(*evaluate_args(fault_suite, out, uri, SLOW), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"taking over the lock of an ended run (pid {killed.pid} on" in resumed.stderr
    assert time.time() - started < 120  # no waiting for a dead owner
    assert (out / ".lock").read_text() == ""  # released at the end
    assert_good_pairs_identical(out, reference, CLIP_IDS)
