"""`evaluate --matrix` is held to a single run's promises: its folder is locked, --pair-timeout is honoured.

Real `qa-harness evaluate --matrix` subprocesses (local executor; the Ray executor's timeout is in
test_ray_executor.py), a real sqlite store.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.faults.common import SLOW, assert_good_pairs_identical, cli, error_line, start, stop, wait_for


def _matrix(folder: Path, suite: Path, **run) -> Path:
    path = folder / "matrix.yaml"
    path.write_text(yaml.safe_dump({"name": "m", "suite": str(suite), "batch_size": 2, "runs": [{"name": "a", **run}]}))
    return path


def _args(matrix: Path, out: Path, uri: str, *extra: str) -> list[str]:
    return [
        "evaluate",
        "--matrix",
        str(matrix),
        "--executor",
        "local",
        "--out",
        str(out),
        "--tracking-uri",
        uri,
        *extra,
    ]


@pytest.mark.slow
def test_a_second_matrix_into_a_live_matrix_folder_is_refused(fault_suite, reference, tmp_path):
    matrix, out, uri, hold = (
        _matrix(tmp_path, fault_suite, model=SLOW),
        tmp_path / "m",
        f"sqlite:///{tmp_path / 'db'}",
        tmp_path / "go",
    )
    live = start(*_args(matrix, out, uri), QA_TEST_HOLD=str(hold))
    try:
        wait_for(Path(f"{hold}.reached").exists, "a batch held in the model", live)
        for mode in ((), ("--overwrite",)):
            refused = cli(*_args(matrix, out, uri, *mode))
            assert refused.returncode == 2, refused.stderr  # before: both ran into one folder
            line = error_line(refused)
            assert f"{out.resolve()}: cannot" in line and "in use by a live run (pid" in line
        hold.touch()
        _, err = live.communicate(timeout=300)
        assert live.returncode == 0, err
    finally:
        hold.touch()
        stop(live)
    assert_good_pairs_identical(out / "a", reference, ("d20", "tpsmm_driving", "vrt_face5"))


@pytest.mark.slow
def test_pair_timeout_is_honoured_by_a_matrix(fault_suite, reference, tmp_path):
    options = {"behaviour": "hangs", "bad": "tpsmm_driving"}
    matrix = _matrix(tmp_path, fault_suite, model="tests.faults.plugins:faulty", options=options)
    out = tmp_path / "m"
    result = cli(*_args(matrix, out, f"sqlite:///{tmp_path / 'db'}", "--pair-timeout", "2"), timeout=120)
    assert result.returncode == 3, result.stderr  # before: the option was ignored and the matrix hung
    clips = pd.read_parquet(out / "a" / "clips.parquet").set_index("pair_id")
    assert clips.loc["tpsmm_driving", "error"] == "pair ran past --pair-timeout 2 s"
    assert "FAILED tpsmm_driving: pair ran past --pair-timeout 2 s" in result.stdout
    assert_good_pairs_identical(out / "a", reference, ("d20", "vrt_face5"))
