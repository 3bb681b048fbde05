"""The runs layer's statistics: one bootstrap engine, one clip-condition rule, one missing-value rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qa_harness.runs.selectors import parse_selector
from qa_harness.runs.stats import bootstrap, clip_conditions, clip_values, paired_bootstrap, worst_clips
from tests.helpers.runs import records


def test_bootstrap_is_seeded_and_matches_the_normal_interval():
    """Reference: for 400 normal values the percentile bootstrap CI of the mean is close to mean +- 1.96 s/sqrt(n)
    (tolerance 10 % of the half-width: the bootstrap's own Monte Carlo error at 2,000 resamples is ~3 %)."""
    values = np.random.default_rng(0).normal(1.0, 0.2, size=400)
    ci = bootstrap(values, seed=5)
    assert ci == bootstrap(values, seed=5) and ci.point == values.mean()
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert ci.low == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert ci.high == pytest.approx(values.mean() + half, abs=0.1 * half)


def test_bootstrap_edge_cases():
    assert np.isnan(bootstrap(np.array([0.3]), seed=0).low)
    assert np.isnan(bootstrap(np.array([0.3, np.nan]), seed=0).high)  # NaN values are not clips
    same = bootstrap(np.full(5, 0.25), seed=0)
    assert (same.point, same.low, same.high) == (0.25, 0.25, 0.25)


def test_paired_and_single_run_intervals_come_from_one_engine():
    """Against an all-zero baseline, the paired CI of the mean difference is the single-run CI of the mean."""
    values = np.random.default_rng(1).uniform(size=12)
    one, paired = bootstrap(values, seed=7), paired_bootstrap(values, np.zeros(12), "mean", seed=7)
    assert (paired.low, paired.high) == pytest.approx((one.low, one.high), rel=1e-12)


def test_a_clip_condition_is_the_most_common_value_of_its_frames():
    frames = pd.DataFrame(
        {
            "pair_id": ["a"] * 4 + ["b"],
            "frame": [0, 1, 2, 3, 0],
            "cond:pose_gap": ["small", "large", "large", None, None],
        }
    )
    conditions = clip_conditions(frames)
    assert conditions.loc["a", "cond:pose_gap"] == "large"  # not the first frame's "small"
    assert pd.isna(conditions.loc["b", "cond:pose_gap"])


def test_clip_values_leave_out_clips_without_a_value():
    frames = pd.DataFrame(
        {
            "pair_id": ["a", "a", "b", "c"],
            "frame": [0, 1, 0, 0],
            "metric:l1": [0.2, np.nan, np.nan, 0.4],
            "cond:pose": ["frontal", "extreme", "frontal", "side"],
        }
    )
    run = records(frames)
    assert clip_values(run, "l1").to_dict() == {"a": 0.2, "c": 0.4}  # b: only NaN frames
    assert clip_values(run, "l1", parse_selector("pose=extreme").concrete).empty  # a's extreme frame is NaN


def test_worst_clips_rank_paired_clips_and_list_the_unpaired():
    """A clip with no baseline value is listed, never ranked as if the baseline were 0 (the report did that)."""
    candidate = pd.Series({"a": 0.30, "b": 0.20, "c": 0.90, "d": 0.20})  # l1: lower is better
    baseline = pd.Series({"a": 0.10, "b": 0.15, "d": 0.15})
    ranking = worst_clips(candidate, baseline, higher_is_better=False, k=2)
    assert ranking.ranked == ("a", "b") and ranking.unpaired == ("c",)  # b and d tie: pair-id order
    assert worst_clips(candidate, None, higher_is_better=False, k=2).ranked == ("c", "a")
    assert worst_clips(candidate, None, higher_is_better=True, k=2).ranked == ("b", "d")
