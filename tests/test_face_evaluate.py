"""Face metrics through the real runner: records on both protocols, ground truth analysed once per suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qa_harness.cli import main
from qa_harness.compare import compare_runs
from qa_harness.errors import QaHarnessError
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.metrics._face_analysis import identity_analysis, landmark_analysis
from qa_harness.records import RunResult
from qa_harness.runs import mlflow_io as io
from qa_harness.thumbs import available_frames, region_images, thumb_dir, thumb_frames

FACE = ["akd", "aed", "face_regions", "ear_mar", "id_source", "expression_transfer"]


def _fresh_process() -> None:
    """Forget the in-memory analyses, as a new `qa-harness evaluate` process would."""
    landmark_analysis.cache_clear()
    identity_analysis.cache_clear()


@pytest.mark.slow
def test_second_model_on_the_suite_reuses_ground_truth_from_beside_the_suite(write_suite, tmp_path, tracking_uri):
    suite = write_suite(
        {
            "name": "face",
            "resolution": 256,
            "max_frames": 8,
            "metrics": FACE,
            "clips": [
                {"id": "tpsmm", "path": "clips/tpsmm_driving.mp4", "tags": {"yaw": "moderate"}},
                {"id": "photo", "path": "photos/lp_s1.jpg", "tags": {"yaw": "frontal"}},
            ],
            "pairs": ["tpsmm", {"source": "photo", "driving": "tpsmm"}],
        }
    )

    def run(model: str) -> RunResult:
        _fresh_process()
        cfg = EvalConfig(
            suite=suite,
            model=model,
            out_dir=tmp_path / model,
            tracking_uri=tracking_uri,
            batch_size=4,
            progress=False,
            device="cpu",
        )
        result = run_evaluation(cfg)
        assert not result.failed and not result.unavailable_metrics
        return result

    perfect_run = run("driving")
    perfect = pd.read_parquet(perfect_run.records_path)
    cache = suite.parent / ".qa_cache" / "face"
    stored = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")}
    # identity: 2 driving batches, the clip's frame 0 and the photo (the sources of id_source); landmarks: the
    # same 4, as the identity backend embeds the faces the shared landmark analysis found (no detector of its own)
    assert len([p for p in stored if "landmarks-" in str(p)]) == 4
    assert len([p for p in stored if "identity-" in str(p)]) == 4

    still_run = run("identity")  # another model: its outputs are new, the suite's frames are not
    still = pd.read_parquet(still_run.records_path)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")} == stored

    recon = perfect[perfect["protocol"] == "reconstruction"]
    assert (recon["metric:akd"] == 0).all() and (recon["metric:aed"] == 0).all()
    assert np.allclose(recon["metric:eye_ssim"], 1.0) and (recon["metric:face_found_output"] == 1).all()
    cross = perfect[perfect["protocol"] == "cross"]
    assert cross["metric:akd"].isna().all()  # no ground truth: not scored
    assert cross["metric:id_source"].notna().all() and cross["metric:xfer_ear_output"].notna().all()
    recon_still = still[still["protocol"] == "reconstruction"]
    assert recon_still["metric:akd"].iloc[0] == 0 and recon_still["metric:akd"].iloc[1:].gt(0).all()

    # eye and mouth crops for the report: reconstruction frames only (the crops need ground truth)
    thumbs = still_run.out_dir / "thumbs"
    recon_dir, cross_dir = (thumbs / thumb_dir(p) for p in ("tpsmm", "photo->tpsmm"))
    assert available_frames(recon_dir) == available_frames(cross_dir) == thumb_frames(8)
    assert [set(region_images(recon_dir, f)) for f in thumb_frames(8)] == [{"eye_left", "eye_right", "mouth"}] * 8
    assert not list(cross_dir.glob("*-target.jpg"))
    eye = region_images(recon_dir, 7)["eye_left"]
    assert eye["target"] != eye["output"]  # the identity model's eyes stay those of frame 0
    html = tmp_path / "report.html"
    report = ["report", still_run.run_id, "--baseline", perfect_run.run_id, "--out", str(html), "--no-log"]
    assert main([*report, "--tracking-uri", tracking_uri]) == 0  # a baseline of zeros (akd, l1): deltas, not %
    assert html.read_text().count('class="crop"') >= 3 * 2 * 3  # worst clip's 3 frames: 3 regions x truth, output

    # directions as the metrics declare them; raw EAR/MAR trajectories are descriptive, not scores
    client = io.client_for(tracking_uri)
    runs = [io.load_run(client, r.run_id) for r in (perfect_run, still_run)]
    recorded = runs[1].higher_is_better
    assert recorded["ear_output"] is None and recorded["blink_f1"] is True and recorded["akd"] is False
    assert "ear_output" not in runs[1].scored_metrics() and "eye_ssim" in runs[1].scored_metrics()
    compared = set(compare_runs(runs)["metric"])
    assert compared == set(runs[0].scored_metrics()) and {"eye_ssim", "akd"} <= compared
    assert not compared & {"ear_output", "ear_target", "mar_output", "mar_target"}
    with pytest.raises(QaHarnessError, match="'ear_output' is a descriptive column"):
        runs[1].direction("ear_output")
