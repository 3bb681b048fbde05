"""Condition-level statistics on synthetic paired regressions with a known truth: calibration (false
alarms at the stated rate, with per-clip run-to-run shifts), power on one clip, segments for
autocorrelated frames, and the family corrections against independent references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qa_harness.runs.condition_stats import (
    ConditionTest,
    NotTestable,
    benjamini_hochberg,
    bootstrap_test,
    clip_deltas,
    correct,
    holm,
    mean_test,
    paired_deltas,
)


def _deltas(
    rng, clips: int, frames: int, *, tau: float, noise: float, shift: float = 0.0, rho: float = 0.0, prefix: str = "c"
) -> pd.DataFrame:
    """Per-frame regressions: shift + a per-clip offset (sd tau) + AR(1) frame noise (sd noise)."""
    rows = []
    for c in range(clips):
        offset, e = rng.normal(0, tau), 0.0
        for f in range(frames):
            e = rho * e + np.sqrt(1 - rho**2) * rng.normal(0, noise)
            rows.append((f"{prefix}{c}", f, shift + offset + e))
    return pd.DataFrame(rows, columns=["pair_id", "frame", "delta"])


def test_paired_deltas_pair_by_frame_orient_and_drop_nan():
    cand = pd.DataFrame({"pair_id": ["a", "a", "b"], "frame": [0, 1, 0], "m": [0.5, np.nan, 0.9], "cond:x": "v"})
    base = pd.DataFrame({"pair_id": ["a", "a", "b", "c"], "frame": [1, 0, 0, 0], "m": [0.7, 0.6, 0.8, 0.1]})
    higher = paired_deltas(cand, base, "m", higher_is_better=True)
    assert list(zip(higher["pair_id"], higher["frame"], higher["delta"].round(12), strict=True)) == [
        ("a", 0, 0.1),
        ("b", 0, -0.1),
    ]
    assert "cond:x" in higher and paired_deltas(cand, base, "m", False)["delta"].round(12).tolist() == [-0.1, 0.1]


def test_one_clip_condition_false_alarms_at_the_nominal_rate():
    """Clips that move between runs by sd 0.01 each: a one-clip condition, tested against tau pooled from
    the 9 other clips, fails H0 mu<=0 at level 0.05 about 5 % of the time (not 50 %, as a test from the
    clip's own segments would)."""
    rng = np.random.default_rng(0)
    trials, hits, naive_hits = 400, 0, 0
    for _ in range(trials):
        run = clip_deltas(_deltas(rng, 10, 16, tau=0.01, noise=0.003))
        one = run.drop(run.mean.index[1:])
        test = mean_test(one, run.drop(one.mean.index), min_clips=5)
        hits += test.p_value(0.0) < 0.05
        naive_hits += stats.t.sf(one.mean.iloc[0] / np.sqrt(one.within.iloc[0]), 4) < 0.05
    assert 0.02 <= hits / trials <= 0.08, hits / trials
    assert naive_hits / trials > 0.3  # segments alone ignore the clip's own run-to-run shift


def test_small_condition_with_its_own_clips_is_calibrated_too():
    rng = np.random.default_rng(1)
    trials, hits = 400, 0
    for _ in range(trials):
        run = clip_deltas(_deltas(rng, 12, 8, tau=0.01, noise=0.003))
        three = run.drop(run.mean.index[3:])
        hits += mean_test(three, run.drop(three.mean.index), min_clips=5).p_value(0.0) < 0.05
    assert hits / trials <= 0.08, hits / trials


def test_a_regression_on_one_clip_is_caught_with_the_power_it_states():
    rng = np.random.default_rng(2)
    clean = clip_deltas(_deltas(rng, 8, 16, tau=0.002, noise=0.003))
    hit = clip_deltas(_deltas(rng, 1, 16, tau=0.0, noise=0.003, shift=0.05, prefix="x"))
    test = mean_test(hit, clean, min_clips=5)
    assert (test.n_clips, test.n_frames, test.df) == (1, 16, 7.0) and "variance from 8 clips outside" in test.variance
    assert test.p_value(0.005) < 1e-4
    low, high = test.interval(0.05 / 100)
    assert low > 0.005 and low < 0.05 < high
    mde = test.detectable(0.005, 0.05 / 100)
    assert 0.005 < mde < 0.05
    # the detectable effect is what it says: at the true standard error of this design (per-clip sd
    # 0.002, segment noise), shifts of that size are caught about 80 % of the time
    true_se = np.sqrt(0.002**2 + clean.within.mean())
    true_mde = ConditionTest(0.0, true_se, 7.0, 1, 16, "").detectable(0.005, 0.05 / 100)
    assert 0.5 < mde / true_mde < 2
    caught = 0
    for _ in range(300):
        ref = clip_deltas(_deltas(rng, 8, 16, tau=0.002, noise=0.003))
        one = clip_deltas(_deltas(rng, 1, 16, tau=0.002, noise=0.003, shift=true_mde, prefix="x"))
        caught += mean_test(one, ref, min_clips=5).p_value(0.005) < 0.05 / 100
    assert 0.65 <= caught / 300 <= 0.92, caught / 300


def test_a_five_clip_condition_is_tested_with_the_clips_outside_calibrated_and_with_power():
    """Five clips alone give 4 df: at the first level of a 100-check family (2.5 % / 100) a 0.05 shift
    with clip sd 0.015 is mostly missed; with the between-clip variance of 80 clips outside (df 79) it is
    caught, and clean conditions still false-alarm at about the nominal rate. The two tests are
    Simes-combined."""
    rng = np.random.default_rng(7)
    run = clip_deltas(_deltas(rng, 85, 12, tau=0.015, noise=1e-4))
    five, outside = run.drop(run.mean.index[5:]), run.drop(run.mean.index[:5])
    test = mean_test(five, outside, min_clips=5)
    assert (test.own.df, test.borrowed.df, test.n_clips) == (4, 79, 5)
    assert (
        test.variance
        == "5 clip(s), between-clip variance from 80 clips outside, and their own spread (df 4), Simes-combined"
    )
    # clip means' variance from the clips outside (numpy), within-clip part added for the condition's clips
    tau2 = outside.mean.var(ddof=1) - outside.within.mean()
    assert np.isclose(test.borrowed.se**2, (5 * tau2 + five.within.sum()) / 25, rtol=1e-9)
    limit = test.point - 2 * test.own.se  # a limit both tests put p well below 0.5 at
    own, borrowed = test.own.p_value(limit), test.borrowed.p_value(limit)
    assert 0 < min(2 * min(own, borrowed), max(own, borrowed)) == test.p_value(limit) < 0.5
    level, caught, own_caught, alarms = 0.025 / 100, 0, 0, 0
    for _ in range(200):
        clean = clip_deltas(_deltas(rng, 80, 12, tau=0.015, noise=1e-4))
        hit = clip_deltas(_deltas(rng, 5, 12, tau=0.015, noise=1e-4, shift=0.05, prefix="x"))
        caught += mean_test(hit, clean, min_clips=5).p_value(0.005) < level
        own_caught += mean_test(hit, hit.drop(hit.mean.index), min_clips=5).p_value(0.005) < level
        null = clip_deltas(_deltas(rng, 5, 12, tau=0.015, noise=1e-4, prefix="x"))
        alarms += mean_test(null, clean, min_clips=5).p_value(0.0) < 0.05
    assert caught / 200 > 0.9 and own_caught / 200 < 0.5, (caught, own_caught)
    assert 0.01 <= alarms / 200 <= 0.08, alarms / 200


def test_segments_widen_the_error_of_autocorrelated_frames():
    rng = np.random.default_rng(3)
    rows = _deltas(rng, 1, 40, tau=0.0, noise=0.01, rho=0.9)
    within = clip_deltas(rows).within.iloc[0]
    iid = rows["delta"].var(ddof=1) / 40
    assert within > 2 * iid


def test_enough_clips_use_their_own_spread_and_one_clip_runs_are_not_gated():
    rng = np.random.default_rng(4)
    run = clip_deltas(_deltas(rng, 6, 8, tau=0.01, noise=0.001))
    test = mean_test(run, run.drop(run.mean.index), min_clips=5)
    assert test.variance == "between 6 clips" and test.df == 5
    assert np.isclose(test.se, run.mean.std(ddof=1) / np.sqrt(6), rtol=1e-12)
    assert np.isclose(test.p_value(0.0), stats.ttest_1samp(run.mean, 0.0, alternative="greater").pvalue, rtol=1e-9)
    single = clip_deltas(_deltas(rng, 1, 8, tau=0.0, noise=0.001))
    with pytest.raises(NotTestable, match="1 clip in the run, no between-clip variance"):
        mean_test(single, single.drop(single.mean.index), min_clips=5)
    with pytest.raises(NotTestable, match="no paired frames"):
        mean_test(single.drop(single.mean.index), run, min_clips=5)


def test_bootstrap_standard_error_of_the_mean_matches_the_formula():
    rng = np.random.default_rng(5)
    cand, base = rng.normal(0.5, 0.02, 30), rng.normal(0.5, 0.02, 30)
    test = bootstrap_test(cand, base, lambda x, axis=-1: np.mean(x, axis=axis), resamples=4000, seed=0)
    assert np.isclose(test.point, cand.mean() - base.mean())
    assert np.isclose(test.se, np.std(cand - base, ddof=0) / np.sqrt(30), rtol=0.05)
    with pytest.raises(NotTestable, match="needs at least 2"):
        bootstrap_test(cand[:1], base[:1], np.mean, resamples=100, seed=0)


def test_holm_and_bh_match_references():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    assert np.allclose(holm(p)[:4], [0.03, 0.06, 0.06, 0.02]) and np.isnan(holm(p)[4])
    assert np.allclose(benjamini_hochberg(p)[:4], stats.false_discovery_control(p[:4], method="bh"))


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_intervals_agree_with_the_family_decision(method):
    rng = np.random.default_rng(6)
    for _ in range(50):
        p = np.concatenate([rng.uniform(0, 1, 20), rng.uniform(0, 0.002, rng.integers(0, 4))])
        decision = correct(p, 0.05, method)
        assert np.array_equal(decision.rejected, p < decision.levels), (p, decision)
        assert np.array_equal(decision.rejected, decision.adjusted <= 0.05)
