"""Unscored frames are counted with their reasons; cross pairs get the no-reference metrics by default.

End to end (real clips, MediaPipe, dlib, a real MLflow sqlite store): every NaN of a face or temporal
metric is explained by a counted reason, the counts reach summary.json, MLflow and the terminal, and a
cross pair with no applicable metric fails naming itself.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from qa_harness.catalog import DEFAULT_CROSS_METRICS
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.summary import print_result
from qa_harness.tracking import unscored_key

pytest.importorskip("mediapipe", reason="face metrics need the 'face' extra (pip install -e '.[face]')")

#: The first column of each metric (NaN exactly where it did not score a frame) and whether it needs ground truth.
PRIMARY = {
    "akd": True,
    "aed": True,
    "landmark_jitter": True,
    "warp_error": True,
    "id_source": False,
    "xfer_landmark_jitter": False,
    "output_flicker": False,
}


def _suite(write_suite, **extra):
    return write_suite(
        {
            "name": "faces",
            "resolution": 128,
            "max_frames": 8,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}, {"id": "photo", "path": "photos/lp_s1.jpg"}],
            "pairs": ["d20", {"source": "photo", "driving": "d20"}],
            **extra,
        }
    )


def test_every_nan_frame_is_counted_with_its_reason(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite, metrics=["akd", "aed", "landmark_jitter", "warp_error"])
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model="identity",
            out_dir=tmp_path / "run",
            tracking_uri=tracking_uri,
            batch_size=3,
            progress=False,
        )
    )
    assert not result.failed
    frames = pd.read_parquet(result.records_path)
    summary = json.loads((result.out_dir / "summary.json").read_text())
    run = MlflowClient(tracking_uri).get_run(result.run_id)
    assert set(DEFAULT_CROSS_METRICS) <= set(run.data.params["metrics"].split(","))  # added for the cross pair
    cross = frames[frames["protocol"] == "cross"]
    assert cross["metric:id_source"].notna().all() and cross["metric:xfer_landmark_jitter"].notna().any()
    for metric, needs_reference in PRIMARY.items():
        scored = frames[frames["protocol"] == "reconstruction"] if needs_reference else frames
        counted = summary["unscored"].get(metric, {})
        assert int(scored["metric:" + metric].isna().sum()) == sum(counted.values()), (metric, counted)
        for reason, n in counted.items():
            assert run.data.metrics[unscored_key(metric, reason)] == n
    # first frames of each clip: 2 for the acceleration, 1 for the flow
    assert (
        summary["unscored"]["landmark_jitter"][
            "first frame(s) of the clip: a temporal value needs the frames before it"
        ]
        == 2
    )
    assert summary["unscored"]["warp_error"] == {
        "first frame(s) of the clip: a temporal value needs the frames before it": 1
    }
    printed = io.StringIO()
    print_result(result, file=printed)
    assert "metric warp_error: 1 frames not scored: first frame(s) of the clip" in printed.getvalue()


def test_a_pair_with_no_applicable_metric_fails_naming_it(write_suite, tmp_path, tracking_uri):
    result = run_evaluation(
        EvalConfig(
            suite=_suite(write_suite),
            model="identity",
            metrics=("ssim",),
            out_dir=tmp_path / "run",
            tracking_uri=tracking_uri,
            progress=False,
        )
    )
    (failed,) = result.failed
    assert f"pair {failed.pair_id!r}: no metric applies to the cross protocol (metrics: ssim)" in failed.error
    assert np.isfinite(pd.read_parquet(result.records_path)["metric:ssim"]).all()
