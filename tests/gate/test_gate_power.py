"""Gate power on records computed from real frames: each injected regression fails the default policy
with the right metric and condition; a clean re-run passes; outputs (table, JUnit, Markdown) agree."""

from __future__ import annotations

import dataclasses
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qa_harness.errors import QaHarnessError
from qa_harness.gate.evaluate import evaluate_gate
from qa_harness.gate.output import (
    render_junit,
    render_markdown,
    render_table,
    result_from_json,
    result_to_json,
)
from qa_harness.gate.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]

#: Metrics each regression must fail on all clips (flicker keeps structure, so SSIM barely moves).
EXPECTED = {
    "blur": {"ssim", "psnr", "l1"},
    "colour_shift": {"ssim", "psnr", "l1"},
    "shift_2px": {"ssim", "psnr", "l1"},
    "flicker": {"psnr", "l1"},
}


@pytest.fixture(scope="module")
def policy():
    return load_policy(ROOT / "gates" / "default.yaml")


def test_clean_rerun_with_another_seed_passes(policy, rerun, baseline_run):
    result = evaluate_gate(policy, rerun, baseline_run)
    assert result.passed, render_table(result)
    checked = [c for c in result.checks if c.status == "pass" and c.max_regression is not None]
    assert len(checked) >= 15  # relative checks really ran (not all skipped)
    assert all(c.regression_low <= c.max_regression for c in checked)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_global_regression_fails_on_its_metrics_in_every_condition(policy, regressed_runs, baseline_run, name):
    result = evaluate_gate(policy, regressed_runs[name], baseline_run)
    assert not result.passed
    failed = {(c.metric, c.condition) for c in result.failures}
    for metric in EXPECTED[name]:
        assert (metric, "all") in failed, (name, metric, render_table(result))
        assert (metric, "pose=frontal") in failed and (metric, "pose=extreme") in failed
    for check in result.failures:
        assert check.regression_low > check.max_regression  # failed only with the whole CI beyond the limit


def test_regression_on_one_condition_is_named_by_that_condition(policy, regressed_runs, baseline_run, degraded_pairs):
    run = regressed_runs["extreme_pose_only"]
    result = evaluate_gate(policy, run, baseline_run)
    failed = {(c.metric, c.condition) for c in result.failures}
    assert {("ssim", "pose=extreme"), ("psnr", "pose=extreme"), ("l1", "pose=extreme")} <= failed
    by_name = {c.name: c for c in result.checks}
    for rule in ("ssim-mean", "psnr-mean", "l1-mean"):
        assert by_name[f"{rule}[pose=frontal]"].status == "pass"
    # every failing condition contains degraded clips; none is made of untouched clips only
    frames = run.frames
    for check in result.failures:
        if check.condition == "all":
            continue
        axis, value = check.condition.split("=")
        pairs = set(frames.loc[frames[f"cond:{axis}"] == value, "pair_id"])
        assert pairs & degraded_pairs["extreme_pose_only"], check.name
    for check in result.failures:  # the clips named as worst are degraded ones
        named = {text.rsplit(" (", 1)[0] for text in check.worst_clips}
        assert len(named) == 3 and named <= degraded_pairs["extreme_pose_only"], check.name


@pytest.mark.slow  # evaluates runs end to end
def test_failed_clips_fail_the_gate(policy, truth, baseline_run):
    from tests.gate.gate_runs import make_run

    run = make_run(truth, run_id="one-failed", seed=2, fail=("d20#1",))
    result = evaluate_gate(policy, run, baseline_run)
    assert [c.rule for c in result.failures] == ["failed-clips"]
    assert "d20#1" in result.failures[0].message


def test_absolute_thresholds_and_no_baseline(tmp_path, rerun):
    path = tmp_path / "abs.yaml"
    path.write_text(
        "version: 1\nrules:\n"
        "  - {name: ssim-floor, metric: ssim, threshold: 0.99, conditions: [all, 'pose=extreme']}\n"
        "  - {name: l1-ceiling, metric: l1, threshold: 0.1, max_regression: 0.01}\n"
    )
    result = evaluate_gate(load_policy(path), rerun, None)
    by_name = {c.name: c for c in result.checks}
    assert by_name["ssim-floor[all]"].status == "fail" and "must be at least 0.99" in by_name["ssim-floor[all]"].message
    assert math.isclose(
        by_name["ssim-floor[all]"].candidate,
        rerun.frames.groupby("pair_id")["metric:ssim"].mean().mean(),
        rel_tol=1e-12,
    )
    assert by_name["l1-ceiling[all]"].status == "pass"
    assert "no baseline" in by_name["l1-ceiling[all]"].message


def test_insufficient_clips_skip_or_fail(tmp_path, rerun, baseline_run):
    """A p10 over 8 clips with min_clips 9 cannot be tested: NOT GATED (skip) or failed, as the policy says;
    the mean of the same condition is tested, its between-clip variance borrowed from the clips outside."""
    text = (
        "version: 1\ninsufficient: {mode}\nrules:\n"
        "  - {{metric: ssim, aggregate: p10, max_regression: 0.01, conditions: ['pose=moderate'], min_clips: 9}}\n"
        "  - {{metric: ssim, name: m, max_regression: 0.01, conditions: ['pose=moderate'], min_clips: 9}}\n"
    )
    for mode, status in (("skip", "skip"), ("fail", "fail")):
        path = tmp_path / f"{mode}.yaml"
        path.write_text(text.format(mode=mode))
        p10, mean = evaluate_gate(load_policy(path), rerun, baseline_run).checks[-2:]
        assert (p10.status, p10.n_clips) == (status, 8) and "8 clip(s), p10 over clips needs min_clips=9" in p10.message
        assert p10.not_gated == "8 clip(s), p10 over clips needs min_clips=9"
        assert (mean.status, mean.n_clips, mean.not_gated) == ("pass", 8, "")
        assert "8 clip(s), between-clip variance from 40 clips outside" in mean.message


def test_outputs_junit_markdown_json(policy, regressed_runs, baseline_run):
    result = evaluate_gate(policy, regressed_runs["extreme_pose_only"], baseline_run)
    root = ET.fromstring(render_junit(result))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(result.checks) == int(suite.get("tests"))
    failing = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    assert failing == {(c.rule, c.condition) for c in result.failures} and int(suite.get("failures")) == len(failing)
    assert ("ssim-mean", "pose=extreme") in failing
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite.get("skipped")) == len(skipped) > 0
    md = render_markdown(result)
    assert md.startswith("## ❌ Quality gate `default`: **FAIL**")
    assert "- **ssim-mean** on `pose=extreme`: regression +" in md
    assert md.count("\n| ") == len(result.checks) + 1  # header + one row per check
    table = render_table(result)
    assert "FAIL ssim-mean[pose=extreme]" in table
    assert "; worst clips: " in md and "; worst clips: " in table
    again = result_from_json(result_to_json(result))
    assert again.verdict == "fail" and [c.name for c in again.failures] == [c.name for c in result.failures]
    assert [(c.worst_clips, c.higher_is_better) for c in again.checks] == [
        (c.worst_clips, c.higher_is_better) for c in result.checks
    ]


def test_missing_metric_and_unknown_axis_are_reported_not_hidden(tmp_path, rerun, baseline_run):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nrules:\n"
        "  - {name: lpips-required, metric: lpips, max_regression: 0.01}\n"
        "  - {name: lpips-optional, metric: lpips, max_regression: 0.01, optional: true}\n"
        "  - {name: ssim-expr, metric: ssim, max_regression: 0.01, conditions: ['expression=*']}\n"
    )
    checks = {c.rule: c for c in evaluate_gate(load_policy(path), rerun, baseline_run).checks}
    assert (
        checks["lpips-required"].status == "fail"
        and "'lpips' is not in the candidate" in checks["lpips-required"].message
    )
    assert checks["lpips-optional"].status == "skip"
    assert (checks["ssim-expr"].status, checks["ssim-expr"].condition) == ("skip", "expression=*")
    assert "no condition values" in checks["ssim-expr"].message


def test_directions_come_from_the_runs_and_a_rule_may_override_them(tmp_path, regressed_runs, baseline_run):
    path = tmp_path / "p.yaml"
    rules = "version: 1\nrules:\n  - {{name: s, metric: ssim, max_regression: 0.005{extra}}}\n"
    path.write_text(rules.format(extra=""))
    blurred = regressed_runs["blur"]
    assert not evaluate_gate(load_policy(path), blurred, baseline_run).passed  # ssim: higher is better (recorded)
    path.write_text(rules.format(extra=", higher_is_better: false"))
    flipped = evaluate_gate(load_policy(path), blurred, baseline_run)
    assert flipped.passed and flipped.checks[-1].higher_is_better is False  # lower SSIM now counts as better
    unrecorded = dataclasses.replace(blurred, higher_is_better={})
    path.write_text(rules.format(extra=""))
    with pytest.raises(QaHarnessError, match=r"run blur does not record whether higher or lower 'ssim' is better"):
        evaluate_gate(load_policy(path), unrecorded, baseline_run)


def test_misspelled_metric_fails_with_a_suggestion(tmp_path, rerun, baseline_run):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules:\n  - {name: typo, metric: sssim, max_regression: 0.01}\n")
    check = evaluate_gate(load_policy(path), rerun, baseline_run).checks[-1]
    assert check.status == "fail" and "'sssim' is not in the candidate's records (did you mean: ssim" in check.message


@pytest.mark.parametrize(
    ("name", "region", "other"), [("frozen_eyes", "eye", "mouth"), ("frozen_mouth", "mouth", "eye")]
)
def test_frozen_eyes_or_mouth_fail_on_that_region(policy, regressed_runs, baseline_run, name, region, other):
    """Eyes (mouth) of each pair's first frame kept in every frame: the region rule fails by name, in every
    condition but occlusion=glasses and pose=extreme, with a regression many times the whole-frame one; the
    other region's rule passes. occlusion=glasses is 8 segments of one video, pose=extreme 16 of two: the
    freeze hits the videos unevenly, which inflates the spread of the clips outside and their own, so
    their raw p (0.004-0.034) does not survive the gate's family-wise (Holm) correction over ~25 tested
    checks; BH passed them, at the price of blaming untouched conditions once others fail
    (benchmarks/RESULTS.md, gating suite acceptance)."""
    result = evaluate_gate(policy, regressed_runs[name], baseline_run)
    failed = {(c.metric, c.condition) for c in result.failures}
    weak = {"occlusion=glasses", "pose=extreme"}
    conditions = {c.condition for c in result.checks if c.rule == f"{region}-ssim-mean"} - weak
    assert {(f"{region}_ssim", c) for c in conditions} <= failed and len(conditions) >= 7
    raw = {c.condition: c.p_value for c in result.checks if c.rule == f"{region}-ssim-mean" and c.condition in weak}
    assert len(raw) == 2 and max(raw.values()) < 0.05, raw  # the evidence is there, short of family-wise
    assert not any(metric == f"{other}_ssim" for metric, _ in failed)
    by_name = {c.name: c for c in result.checks}
    assert by_name[f"{region}-ssim-mean[all]"].regression > 10 * by_name["ssim-mean[all]"].regression > 0
