"""What every fault test shares: a tiny real suite, the CLI in a subprocess, and the reference records.

The suite: three shipped clips at 64x64, three frames each, metrics l1/psnr/ssim (no weights). The
reference is the `driving` model's run of it; a fault test's good pairs must match it bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from tests.helpers.media import REPO

RESOLUTION = 64
CLIP_IDS = ("d20", "tpsmm_driving", "vrt_face5")
METRICS = "l1,psnr,ssim"


def write_tiny_suite(
    folder: Path, *, name: str = "faults", clips: tuple[str, ...] = CLIP_IDS, extra: dict | None = None
) -> Path:
    manifest = {
        "name": name,
        "data_root": str(REPO / "data"),
        "resolution": RESOLUTION,
        "max_frames": 3,
        "metrics": METRICS.split(","),
        "clips": [{"id": c, "path": f"clips/{c}.mp4"} for c in clips],
        **(extra or {}),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**base, "PYTHONPATH": str(REPO), **extra}


def cli(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
    """`qa-harness ARGS` in a subprocess, from the repo root."""
    return subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env(**extra_env),
        timeout=timeout,
    )


def start(*args: str, **extra_env: str) -> subprocess.Popen:
    """`qa-harness ARGS` started in the background (stdout/stderr captured as text). SIGINT is reset to its
    default in the child: a child inherits an ignored SIGINT (a test run in-process before may leave it so),
    and Python then never turns SIGINT into KeyboardInterrupt."""
    return subprocess.Popen(
        [sys.executable, "-m", "qa_harness.cli", *args],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        cwd=REPO,
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def evaluate_args(suite: Path, out: Path, uri: str, model: str = "driving", *options: str) -> list[str]:
    return [
        "evaluate",
        "--suite",
        str(suite),
        "--model",
        model,
        "--out",
        str(out),
        "--tracking-uri",
        uri,
        "--batch-size",
        "2",
        *[x for o in options for x in ("-o", o)],
    ]


def wait_for_pairs(out: Path, n: int, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    """Block until `n` pairs of the run in `out` are finished (their outcome files exist)."""
    deadline = time.time() + timeout
    while len(list((out / "pairs").glob("*.json"))) < n:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"run ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.time() > deadline:
            raise AssertionError(f"{out}: fewer than {n} pairs finished in {timeout} s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.communicate(timeout=60)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one `qa-harness: error:` line of a user-fixable failure; asserts there is no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("qa-harness: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def pair_records(out: Path) -> dict[str, pd.DataFrame]:
    """Each ok pair's frame records from the run folder's frames.parquet, without the run id."""
    frames = pd.read_parquet(out / "frames.parquet").drop(columns=["run_id"])
    return {pid: rows.reset_index(drop=True) for pid, rows in frames.groupby("pair_id", sort=False)}


def assert_good_pairs_identical(out: Path, reference: Path, good: tuple[str, ...]) -> None:
    """Every pair in `good` holds exactly the reference's records (same values to the bit)."""
    got, want = pair_records(out), pair_records(reference)
    for pid in good:
        assert pid in got, f"{out}: good pair {pid} lost its records"
        pd.testing.assert_frame_equal(got[pid], want[pid], check_exact=True)


def mlflow_run(uri: str, run_id: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri).get_run(run_id)


def run_id_of(out: Path) -> str:
    import json

    return json.loads((out / "run.json").read_text())["mlflow_run_id"]


SLOW = "tests.faults.plugins:faulty"  # with QA_TEST_DELAY: the driving frames, slowly
THRESHOLD_POLICY = "version: 1\nmin_clips: 2\nrules:\n  - {name: ssim-floor, metric: ssim, threshold: 0.1}\n"


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            tail = proc.stderr.read()[-2000:]
            raise AssertionError(f"run ended early ({proc.returncode}) waiting for {what}: {tail}")
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def gate(run_id: str, uri: str, policy: Path) -> subprocess.CompletedProcess:
    if not policy.exists():
        policy.write_text(THRESHOLD_POLICY)
    return cli("gate", "--candidate", run_id, "--policy", str(policy), "--tracking-uri", uri, "--no-log")
