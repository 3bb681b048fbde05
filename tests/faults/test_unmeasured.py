"""A pair that measured nothing is not "ok": a model whose output has no face, scored by face metrics only.

Real clips, the real dlib identity backend, a real sqlite MLflow store and the CLI in a subprocess: the
pair fails with each metric's reason, the reason's frames are counted per pair and per metric (summary,
MLflow, terminal), the report shows it, and the run exits 3.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.faults.common import cli, evaluate_args, mlflow_run, run_id_of, write_tiny_suite

pytest.importorskip("dlib", reason="the identity metric needs the 'face' extra (pip install -e '.[face]')")

NO_FACE_OUT = "no face found in the output by the landmark backend"  # aed embeds the shared landmarks' faces


@pytest.mark.slow
def test_a_pair_whose_every_value_is_nan_fails_with_its_reasons(tmp_path):
    # 128 px: dlib finds the faces of d20 there (test_unscored_and_cross); the blank output has none
    suite = write_tiny_suite(tmp_path, name="faces", clips=("d20", "tpsmm_driving"), extra={"resolution": 128})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "run"
    args = evaluate_args(suite, out, uri, "tests.faults.plugins:faulty", "behaviour=blank", "bad=tpsmm_driving")
    result = cli(*args, "--metrics", "aed")
    assert result.returncode == 3, result.stderr  # before: exit 0, the pair "ok" with every value NaN
    clips = pd.read_parquet(out / "clips.parquet").set_index("pair_id")
    assert clips.loc["d20", "status"] == "ok"
    bad = clips.loc["tpsmm_driving"]
    assert bad["status"] == "failed"
    assert bad["error"] == f"measured nothing: every metric value is NaN on every frame (aed: 3 frames {NO_FACE_OUT})"
    assert "FAILED tpsmm_driving: measured nothing" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["clips/failed"] == 1 and "tpsmm_driving" in summary["failed"]
    assert summary["unscored"]["aed"][NO_FACE_OUT] == 3  # the failed pair's frames are counted, with the reason
    assert f"metric aed: 3 frames not scored: {NO_FACE_OUT}" in result.stdout
    run = mlflow_run(uri, run_id_of(out))
    assert run.info.status == "FINISHED" and run.data.tags["qa_harness.failed_clips"] == "1"
    assert run.data.metrics["unscored/aed/no_face_found_in_the_output_by_the_landmark_backend"] == 3
    html = tmp_path / "report.html"
    report = cli("report", run.info.run_id, "--tracking-uri", uri, "--out", str(html), "--no-log")
    assert report.returncode == 0, report.stderr
    assert "measured nothing: every metric value is NaN on every frame" in html.read_text()
