"""The command line in real subprocesses: help everywhere, exit codes, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.media import REPO

pytestmark = pytest.mark.slow  # every test runs the CLI in subprocesses

COMMANDS = [
    [],
    ["evaluate"],
    ["suites"],
    ["suites", "validate"],
    ["models"],
    ["metrics"],
    ["demo"],
    ["gate"],
    ["compare"],
    ["report"],
]


def cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        **kw,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_everywhere(command):
    result = cli(*command, "--help")
    assert result.returncode == 0 and "usage: qa-harness" in result.stdout


def test_lists_and_version():
    assert {"identity", "driving"} <= set(cli("models").stdout.split())
    assert {"l1", "psnr", "ssim"} <= set(cli("metrics").stdout.split())
    assert cli("--version").stdout.startswith("qa-harness ")


def test_validate_exit_codes(write_suite, tmp_path):
    ok = cli("suites", "validate", str(REPO / "suites" / "demo.yaml"))
    assert ok.returncode == 0 and "8 pairs" in ok.stdout
    bad = write_suite({"name": "s", "clips": [{"id": "a", "path": "clips/none.mp4"}]})
    result = cli("suites", "validate", str(bad))
    assert result.returncode == 2 and f"{bad}:" in result.stderr and "file not found" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "zero.mp4").write_bytes(b"")
    broken = write_suite(
        {"name": "s", "data_root": str(tmp_path), "clips": [{"id": "z", "path": "zero.mp4"}]}, name="broken.yaml"
    )
    result = cli("suites", "validate", str(broken))
    assert result.returncode == 2 and "clip 'z'" in result.stderr


def test_usage_error_exits_2():
    assert cli("evaluate", "--suite").returncode == 2


def _evaluate_args(suite: Path, out: Path, uri: str) -> list[str]:
    return [
        "evaluate",
        "--suite",
        str(suite),
        "--model",
        "tests.helpers.models:noisy",
        "--out",
        str(out),
        "--tracking-uri",
        uri,
        "--batch-size",
        "2",
        "--seed",
        "7",
    ]


def test_resume_after_sigkill_gives_identical_records(write_suite, tmp_path, tracking_uri):
    clips = [{"id": c, "path": f"clips/{c}.mp4"} for c in ("d20", "tpsmm_driving", "vrt_face5", "lp_d11")]
    suite = write_suite({"name": "resume", "resolution": 32, "max_frames": 6, "clips": clips})
    reference = cli(*_evaluate_args(suite, tmp_path / "ref", tracking_uri))
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa_harness.cli", *_evaluate_args(suite, out, tracking_uri)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "QA_TEST_DELAY": "0.5"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "pairs").glob("*.json"))) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((out / "pairs").glob("*.json")))
    assert 1 <= finished < 4, "the kill must land mid-run"

    resumed = cli(*_evaluate_args(suite, out, tracking_uri), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    cols = lambda df: df.drop(columns=["run_id"])  # noqa: E731
    pd.testing.assert_frame_equal(
        cols(pd.read_parquet(out / "frames.parquet")), cols(pd.read_parquet(tmp_path / "ref" / "frames.parquet"))
    )
    assert len(pd.read_parquet(out / "clips.parquet")) == 4


def test_failed_clips_exit_3(write_suite, tmp_path, tracking_uri):
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "ok.mp4").write_bytes((REPO / "data/clips/d20.mp4").read_bytes())
    suite = write_suite(
        {
            "name": "s",
            "data_root": str(tmp_path),
            "resolution": 32,
            "max_frames": 2,
            "clips": [{"id": "z", "path": "zero.mp4"}, {"id": "ok", "path": "ok.mp4"}],
        }
    )
    result = cli(
        "evaluate",
        "--suite",
        str(suite),
        "--model",
        "driving",
        "--out",
        str(tmp_path / "o"),
        "--tracking-uri",
        tracking_uri,
    )
    assert result.returncode == 3
    assert "1/2 pairs ok" in result.stdout and "FAILED z:" in result.stdout
