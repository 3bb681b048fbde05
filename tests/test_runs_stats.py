"""The runs layer's statistics: one bootstrap engine, one clip-condition rule, one missing-value rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qa_harness.runs.selectors import parse_selector
from qa_harness.runs.stats import (
    ClipRow,
    WorstClips,
    bootstrap,
    clip_conditions,
    clip_regression,
    clip_rows,
    clip_values,
    frame_values,
    worst_clips,
)
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


def test_clip_regression_is_paired_and_takes_a_bound():
    """Positive = worse; a clip without a value on either side has no regression (not 0)."""
    candidate = pd.Series({"a": 0.50, "b": 0.25, "c": 0.75})
    baseline = pd.Series({"a": 0.25, "b": np.nan, "d": 1.0})
    assert clip_regression(candidate, baseline, higher_is_better=False).to_dict() == {"a": 0.25}
    assert clip_regression(candidate, baseline, higher_is_better=True).to_dict() == {"a": -0.25}
    assert clip_regression(candidate, 0.5, higher_is_better=True).to_dict() == {"a": 0.0, "b": 0.25, "c": -0.25}


def test_worst_clips_beyond_a_limit_name_only_the_clips_past_it():
    candidate = pd.Series({"a": 0.30, "b": 0.20, "c": 0.90, "d": 0.20})  # l1: regressions a 0.2, b 0.05, d 0.05
    baseline = pd.Series({"a": 0.10, "b": 0.15, "d": 0.15})
    assert worst_clips(candidate, baseline, False, 3, beyond=0.1) == WorstClips(("a",), ())
    # no clip past the limit: every paired clip is ranked, the unpaired listed
    assert worst_clips(candidate, baseline, False, 2, beyond=0.5) == WorstClips(("a", "b"), ("c",))


def test_frame_values_are_one_clips_frames_in_frame_order():
    frames = pd.DataFrame(
        {
            "pair_id": ["a", "a", "b", "a"],
            "frame": [2, 0, 0, 1],
            "metric:l1": [0.3, 0.1, 0.9, 0.2],
            "cond:pose": ["side", "side", "side", "frontal"],
        }
    )
    run = records(frames)
    assert frame_values(run, "a", "l1").to_dict() == {0: 0.1, 1: 0.2, 2: 0.3}
    assert list(frame_values(run, "a", "l1", parse_selector("pose=side").concrete).index) == [0, 2]


def test_clip_rows_give_each_pair_its_condition_errors_and_values():
    """Per pair: the most common condition of its frames, its own and its metrics' errors, its mean of each
    frame-level metric (reference: the hand mean of its frames) and its clip-level values; a failed pair too."""
    frames = pd.DataFrame(
        {
            "pair_id": ["a", "a", "a"],
            "frame": [0, 1, 2],
            "metric:l1": [0.125, 0.25, 0.75],
            "cond:pose_gap": ["small", "large", "large"],
        }
    )
    clips = pd.DataFrame(
        {
            "pair_id": ["a", "b"],
            "status": ["ok", "failed"],
            "frames": [3, 0],
            "error": [None, "decode error"],
            "metric_errors": ["akd: no face", None],
            "clip_metric:blink_f1": [0.5, np.nan],
        }
    )
    a, b = clip_rows(records(frames, clips))
    assert a == ClipRow("a", "ok", {"pose_gap": "large"}, "akd: no face", {"l1": 0.375}, {"blink_f1": 0.5})
    assert (b.pair_id, b.status, b.conditions, b.errors) == ("b", "failed", {}, "decode error")
    assert np.isnan(b.frame_means["l1"]) and np.isnan(b.clip_values["blink_f1"])
