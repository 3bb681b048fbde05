"""Gate and report on runs written by the real `evaluate` pipeline (runner, store, MLflow logging):
the artifact layout the gate reads is the one evaluate writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_harness.cli import main
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.runs import mlflow_io as io

pytestmark = pytest.mark.slow  # evaluate -> gate -> report end to end

ROOT = Path(__file__).resolve().parents[2]
CLIPS = {
    "d20": {"yaw": "frontal", "lighting": "dim"},
    "tpsmm_driving": {"yaw": "moderate", "lighting": "normal"},
    "vrt_face5": {"yaw": "frontal", "lighting": "bright"},
    "lp_d11": {"yaw": "frontal", "lighting": "dim"},
    "d12": {"yaw": "moderate", "lighting": "normal"},
    "lp_s32": {"yaw": "extreme", "lighting": "dim"},
}


def test_gate_and_report_on_evaluate_runs(write_suite, tmp_path, tracking_uri, capsys):
    suite = write_suite(
        {
            "name": "six",
            "resolution": 64,
            "max_frames": 6,
            "clips": [{"id": c, "path": f"clips/{c}.mp4", "tags": t} for c, t in CLIPS.items()],
            "pairs": list(CLIPS),
        }
    )

    def evaluate(model: str, seed: int) -> str:
        cfg = EvalConfig(
            suite=suite,
            model=model,
            out_dir=tmp_path / f"{model}{seed}",
            tracking_uri=tracking_uri,
            batch_size=6,
            seed=seed,
            metrics=("l1", "psnr", "ssim"),
            progress=False,
        )
        return run_evaluation(cfg).run_id

    driving, driving_again, identity = evaluate("driving", 0), evaluate("driving", 1), evaluate("identity", 0)
    policy = str(ROOT / "gates" / "default.yaml")
    common = ["--policy", policy, "--tracking-uri", tracking_uri]
    assert main(["gate", "--candidate", driving_again, "--baseline", driving, *common]) == 0
    assert main(["gate", "--candidate", identity, "--baseline", driving, *common]) == 1
    out = capsys.readouterr().out
    # identity's SSIM/L1 loss ranges from ~0 (nearly still clips) to 0.3 between these 6 clips of 6 frames, so
    # their means are not significant after the correction over the gate's checks (the table's `detectable`
    # says so); PSNR (100 dB for the baseline's exact frames) fails on all clips
    assert "FAIL psnr-mean[all]" in out and "NOT GATED: eye-ssim-mean[all,each]" in out
    run = io.load_run(io.client_for(tracking_uri), identity)  # the layout evaluate writes, as the gate reads it
    assert (run.suite, len(run.suite_version), len(run.frames)) == ("six", 16, 36)
    assert list(run.clips["status"]) == ["ok"] * 6 and run.metrics["perf/frames_per_second"] > 0
    report = tmp_path / "identity.html"
    assert main(["report", identity, "--baseline", driving, "--out", str(report), "--tracking-uri", tracking_uri]) == 0
    html = report.read_text()
    assert "FAIL: policy default" in html and "logged no thumbnails" not in html
    assert html.count("data:image/jpeg") >= 3  # strips of the worst clips, from the thumbnails evaluate logged
