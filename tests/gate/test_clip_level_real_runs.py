"""Clip-level scores end to end on REAL evaluation runs (runner, MediaPipe, MLflow): a candidate whose eyes
are frozen (`tests.helpers.gate_models:frozen_eyes`: the ground truth with the first frame's eyes pasted over
every frame's) fails the default gate on ear_mar's per-clip blink F1 and on nothing else (its pixel means
stay within the limits: SSIM -0.007, L1 +0.001), is marked worse on blink F1 by `compare`, and the HTML
report lists the per-clip values. The suite: the six demo clips (40 frames, 256 px) the policy's limits
were measured on; the baseline is the ground truth (`driving`), so the policy is the default without its
PSNR rule (the ground truth's PSNR is the 100 dB cap, from which any other output regresses). A clean
candidate passing the same rules is tests/gate/test_clip_level_rules.py (measured values)."""

from __future__ import annotations

import re

import pytest
import yaml

from qa_harness.cli import main
from qa_harness.compare import SAME, WORSE, CompareSettings, compare_runs
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.gate.evaluate import evaluate_gate
from qa_harness.gate.policy import load_policy
from qa_harness.report.build import build_report
from qa_harness.runs import mlflow_io as io
from tests.gate.real_runs import ROOT

pytestmark = pytest.mark.slow  # two evaluations of 6 clips x 40 frames with MediaPipe: ~30 s on 2 idle cores
POLICY = ROOT / "gates" / "default.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip_level")
    manifest = yaml.safe_load((ROOT / "suites" / "demo.yaml").read_text())
    videos = [c for c in manifest["clips"] if c["path"].startswith("clips/")]
    manifest.update(name="eyes", data_root=str(ROOT / "data"), clips=videos, pairs=[c["id"] for c in videos])
    manifest.pop("metrics")
    suite = folder / "eyes.yaml"
    suite.write_text(yaml.safe_dump(manifest, sort_keys=False))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = io.client_for(uri)
    policy = yaml.safe_load(POLICY.read_text())
    policy["rules"] = [r for r in policy["rules"] if r["metric"] != "psnr"]
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))

    def run(model: str, name: str):
        metrics = ("l1", "ssim", "ear_mar")
        cfg = EvalConfig(suite=suite, model=model, metrics=metrics, out_dir=folder / name, tracking_uri=uri)
        return io.load_run(client, run_evaluation(cfg).run_id)

    truth, frozen = run("driving", "truth"), run("tests.helpers.gate_models:frozen_eyes", "frozen")
    return truth, frozen, uri, folder / "policy.yaml"


def test_frozen_eyes_fail_the_gate_on_blink_f1_alone(runs):
    truth, frozen, uri, policy = runs
    result = evaluate_gate(load_policy(policy), frozen, truth)
    assert [c.name for c in result.failures] == ["blink-f1-mean[all]"], [c.message for c in result.failures]
    blink = next(c for c in result.checks if c.rule == "blink-f1-mean")
    assert blink.n_clips == 3 and blink.regression_low > blink.max_regression  # the 3 clips with blinks: F1 1 -> 0
    passed = {c.rule for c in result.checks if c.status == "pass"}
    assert {"ssim-mean", "ssim-p10", "l1-mean", "ear-corr-mean", "mar-corr-mean", "mouth-open-f1-mean"} <= passed
    gate = ["gate", "--candidate", frozen.run_id, "--baseline", truth.run_id, "--policy", str(policy)]
    assert main([*gate, "--tracking-uri", uri]) == 1


def test_compare_marks_frozen_eyes_worse_on_blink_f1(runs):
    truth, frozen, _, _ = runs
    table = compare_runs([truth, frozen], CompareSettings(conditions=("all",))).set_index("metric")
    assert table.at["blink_f1", "verdict"] == WORSE and table.at["blink_f1", "delta"] == -1.0
    assert table.at["mouth_open_f1", "delta"] == 0 and table.at["mouth_open_f1", "verdict"] == SAME


def test_the_report_shows_the_clip_level_values(runs):
    truth, frozen, _, policy = runs
    html = build_report(frozen, baseline=truth, gate=evaluate_gate(load_policy(policy), frozen, truth))
    assert "blink-f1-mean[all]" in html
    clips = frozen.clips.set_index("pair_id")
    every_clip = html.split("All clips")[1]
    for pair_id in ("tpsmm_driving", "vrt_face5", "lp_s32"):
        row = re.search(rf"<tr><td class=\"t\">{pair_id}</td>.*?</tr>", every_clip).group(0)
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        for metric in ("blink_f1", "ear_corr", "mar_corr"):
            assert f"{clips.at[pair_id, 'clip_metric:' + metric]:.4g}" in cells, (pair_id, metric, cells)
