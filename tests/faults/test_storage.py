"""Storage faults: --out that is a file, read-only or full; an unwritable tracking store; the umask.

Read-only and full file systems are real small tmpfs mounts (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from tests.faults.common import (
    CLIP_IDS,
    SLOW,
    assert_good_pairs_identical,
    cli,
    env,
    error_line,
    evaluate_args,
    mlflow_run,
    run_id_of,
    start,
    wait_for_pairs,
)
from tests.helpers.media import REPO


@contextlib.contextmanager
def tmpfs(folder, options: str):
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_out_that_is_a_file_exits_2(fault_suite, tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    result = cli(*evaluate_args(fault_suite, blocker / "run", f"sqlite:///{tmp_path / 'db'}"))
    assert result.returncode == 2  # f8bed04: 1 with a traceback
    assert error_line(result).startswith(f"qa-harness: error: {blocker / 'run'}: cannot write: Not a directory")


def test_read_only_out_exits_2(fault_suite, tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        result = cli(*evaluate_args(fault_suite, folder / "run", f"sqlite:///{tmp_path / 'db'}"))
    assert result.returncode == 2
    assert error_line(result) == f"qa-harness: error: {folder / 'run'}: cannot write: Read-only file system"


def test_full_disk_mid_run_fails_the_run_and_resume_recovers_it(fault_suite, reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'db'}"
    with tmpfs(tmp_path / "small", "size=4m") as folder:
        out = folder / "run"
        proc = start(*evaluate_args(fault_suite, out, uri, SLOW), QA_TEST_DELAY="0.5")
        wait_for_pairs(out, 1, proc)
        filler = folder / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err  # f8bed04: 1 with a traceback
        assert "No space left on device" in err and "Traceback" not in err
        run = mlflow_run(uri, run_id_of(out))
        assert run.info.status == "FAILED" and "No space left on device" in run.data.tags["qa_harness.error"]
        filler.unlink()
        resumed = cli(*evaluate_args(fault_suite, out, uri, SLOW), "--resume", "--retry-failed")
        assert resumed.returncode == 0, resumed.stderr
        assert mlflow_run(uri, run_id_of(out)).info.status == "FINISHED"
        assert_good_pairs_identical(out, reference, CLIP_IDS)


def test_retry_failed_reruns_failed_pairs_and_records_it(fault_suite, reference, tmp_path):
    out, uri = tmp_path / "run", f"sqlite:///{tmp_path / 'db'}"
    first = cli(*evaluate_args(fault_suite, out, uri, SLOW, "behaviour=exits", "bad=vrt_face5"))
    assert first.returncode == 3
    again = cli(*evaluate_args(fault_suite, out, uri, SLOW, "behaviour=exits", "bad=vrt_face5"), "--resume")
    assert again.returncode == 3, "plain --resume keeps failed pairs (documented)"
    retried = cli(
        *evaluate_args(fault_suite, out, uri, SLOW, "behaviour=exits", "bad=vrt_face5"),
        "--resume",
        "--retry-failed",
        QA_TEST_FAULT_OFF="1",
    )
    assert retried.returncode == 0, retried.stderr  # f8bed04: no way to retry; the failure was permanent
    summary = json.loads((out / "summary.json").read_text())
    assert [r["pairs"] for r in summary["retried"]] == [["vrt_face5"]] and summary["counts"]["clips/failed"] == 0
    assert_good_pairs_identical(out, reference, CLIP_IDS)
    assert cli("evaluate", "--suite", str(fault_suite), "--model", "driving", "--retry-failed").returncode == 2


def test_unwritable_tracking_store_exits_2(fault_suite, tmp_path):
    blocker = tmp_path / "store"
    blocker.write_text("a file, not a folder")
    uri = f"sqlite:///{blocker / 'mlflow.db'}"
    result = cli(*evaluate_args(fault_suite, tmp_path / "run", uri))
    assert result.returncode == 2  # f8bed04: 1 with a traceback
    assert error_line(result).startswith(f"qa-harness: error: tracking store {uri}:")


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o027, 0o640)])
def test_shards_honour_the_umask(fault_suite, tmp_path, umask, mode):
    out = tmp_path / "run"
    args = evaluate_args(fault_suite, out, f"sqlite:///{tmp_path / 'db'}")
    result = subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", *args],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),
    )
    assert result.returncode == 0, result.stderr
    written = [*(out / "pairs").iterdir(), out / "run.json", out / "frames.parquet"]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(mode)}  # f8bed04: 0o600 (mkstemp)
    assert len(pd.read_parquet(out / "clips.parquet")) == 3
