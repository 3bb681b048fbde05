"""compare: same model twice -> no detectable difference; a degraded run -> worse in the right cells."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
from PIL import Image

from qa_harness.cli import main
from qa_harness.compare import BETTER, SAME, TOO_FEW, WORSE, CompareSettings, compare_runs, holm, render_markdown
from qa_harness.plots import pareto_front
from tests.gate.gate_runs import DIRECTIONS


def test_holm_matches_hand_computation():
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm([0.2, np.nan])[1]) and holm([0.2, np.nan])[0] == 0.2


def test_pareto_front():
    quality = np.array([0.9, 0.8, 0.85, 0.7])
    cost = np.array([10.0, 5.0, 12.0, 5.0])  # third is dominated by the first, fourth by the second
    assert pareto_front(quality, cost).tolist() == [True, True, False, False]


def test_same_model_twice_has_no_detectable_difference(baseline_run, rerun):
    table = compare_runs([baseline_run, rerun])
    assert set(table["metric"]) == set(DIRECTIONS)  # l1, psnr, ssim and the eye/mouth region metrics
    tested = table[table["verdict"] != TOO_FEW]
    assert len(tested) == len(table) == len(DIRECTIONS) * 9  # all + nine condition values, per metric
    assert (tested["verdict"] == SAME).all(), tested[tested["verdict"] != SAME]


def test_small_conditions_are_tested_and_a_one_clip_run_is_too_few(baseline_run, rerun):
    settings = CompareSettings(conditions=("pose=moderate",), metrics=("ssim", "psnr", "l1"), min_clips=9)
    table = compare_runs([baseline_run, rerun], settings)
    assert (table["verdict"] == SAME).all() and (table["clips"] == 8).all() and table["p"].notna().all()
    one = [dataclasses.replace(r, frames=r.frames[r.frames["pair_id"] == "d20#0"]) for r in (baseline_run, rerun)]
    assert (compare_runs(one, CompareSettings(conditions=("all",)))["verdict"] == TOO_FEW).all()


def test_degraded_run_is_worse_in_the_degraded_cells_only(baseline_run, regressed_runs):
    table = compare_runs([baseline_run, regressed_runs["extreme_pose_only"]]).set_index(["metric", "condition"])
    for metric in ("ssim", "psnr", "l1"):
        assert table.loc[(metric, "pose=extreme"), "verdict"] == WORSE
        assert table.loc[(metric, "pose=frontal"), "verdict"] == SAME
        assert table.loc[(metric, "pose=extreme"), "p_adjusted"] < 0.05
    assert not (table["verdict"] == BETTER).any()
    # a blur-free baseline compared against the blurred run reads as "better" the other way round
    reverse = compare_runs([regressed_runs["extreme_pose_only"], baseline_run]).set_index(["metric", "condition"])
    assert reverse.loc[("ssim", "pose=extreme"), "verdict"] == BETTER
    md = render_markdown(table.reset_index(), {baseline_run.run_id: "base", "extreme_pose_only": "extreme"})
    assert "### `extreme`:" in md and "- **worse**: ssim on `pose=extreme`" in md


def test_frozen_mouth_is_worse_on_mouth_metrics_only(baseline_run, regressed_runs):
    table = compare_runs([baseline_run, regressed_runs["frozen_mouth"]]).set_index(["metric", "condition"])
    for metric in ("mouth_ssim", "mouth_l1"):  # every condition, 8 clips or 48 (Wilcoxon + Holm could not)
        assert (table.loc[metric, "verdict"] == WORSE).all()
    assert not (table.loc["eye_ssim", "verdict"] == WORSE).any()
    # the turned face of the pose=moderate clip (also its occlusion=hand) has its mouth box reach into the
    # eye crop in 3 of its 8 segments: frozen vs unfrozen eye L1 differs there by 7e-5..2e-4, a real change
    # the pooled between-clip variance resolves; everywhere else the eye crops are untouched
    worse = table.loc["eye_l1"].index[table.loc["eye_l1", "verdict"] == WORSE]
    assert set(worse) <= {"pose=moderate", "occlusion=hand"}


def test_compare_command_logs_table_markdown_and_pareto(store, tmp_path, capsys):
    uri, ids, client = store
    code = main(
        [
            "compare",
            ids["baseline"],
            ids["good"],
            ids["blur"],
            "--tracking-uri",
            uri,
            "--out",
            str(tmp_path),
            "--label-param",
            "seed",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "comparison logged to MLflow run" in out
    comparison = out.rsplit(" ", 1)[1].strip()
    run = client.get_run(comparison)
    assert run.data.tags["qa_harness.kind"] == "comparison" and run.data.metrics["compare/worse_cells"] >= 3
    names = {a.path for a in client.list_artifacts(comparison, "compare")}
    assert names == {"compare/cells.csv", "compare/summary.md", "compare/pareto.png"}
    image = Image.open(io.BytesIO((tmp_path / "pareto.png").read_bytes()))
    assert image.size[0] > 300 and image.size[1] > 300
    assert main(["compare", ids["baseline"], "--tracking-uri", uri]) == 2
    args = ["compare", ids["baseline"], ids["blur"], "--tracking-uri", uri, "--no-log", "--correction", "holm"]
    assert main([*args, "--out", str(tmp_path / "holm")]) == 0
    cells = pd.read_csv(tmp_path / "holm" / "cells.csv")
    np.testing.assert_allclose(cells["p_adjusted"], holm(cells["p"]), rtol=1e-9)
    assert (cells["verdict"] == WORSE).sum() >= 3  # the blur is still called worse family-wise
