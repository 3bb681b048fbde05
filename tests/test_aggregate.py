"""Aggregation: clips are the unit, per-condition rows for every tag value, seeded bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qa_harness.aggregate import aggregate, bootstrap_ci


def _frames(rows):
    return pd.DataFrame(rows, columns=["pair_id", "frame", "metric:l1", "cond:pose"])


def test_clips_are_weighted_equally_and_conditions_split():
    frames = _frames([("a", i, 0.1, "frontal") for i in range(10)] + [("b", 0, 0.5, "extreme")])
    table = aggregate(frames).set_index(["metric", "axis", "value"])
    overall = table.loc[("l1", "all", "all")]
    assert overall["mean"] == pytest.approx(0.3) and overall["clips"] == 2 and overall["frames"] == 11
    assert table.loc[("l1", "pose", "frontal"), "mean"] == pytest.approx(0.1)
    assert table.loc[("l1", "pose", "extreme"), "frames"] == 1


def test_per_frame_conditions_split_a_clip():
    frames = _frames([("a", 0, 0.2, "frontal"), ("a", 1, 0.4, "extreme"), ("b", 0, 0.6, "extreme")])
    table = aggregate(frames).set_index(["metric", "axis", "value"])
    assert table.loc[("l1", "pose", "extreme"), "mean"] == pytest.approx(0.5)  # clip a's extreme frame, clip b
    assert table.loc[("l1", "pose", "extreme"), "clips"] == 2


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).normal(1.0, 0.2, size=40)
    low, high = bootstrap_ci(values, seed=5)
    assert (low, high) == bootstrap_ci(values, seed=5)
    assert low < values.mean() < high and high - low < 0.2
    assert np.isnan(bootstrap_ci(values[:1], seed=0)[0])


def test_clip_level_metrics_without_tags():
    frames = pd.DataFrame({"pair_id": ["a", "a", "b"], "frame": [0, 1, 0], "metric:l1": [0.1, 0.2, 0.3]})
    clips = pd.DataFrame({"pair_id": ["a", "b"], "status": ["ok", "ok"], "frames": [2, 1],
                          "clip_metric:ear_corr": [0.9, 0.5]})
    table = aggregate(frames, clips).set_index(["metric", "axis", "value"])
    assert table.loc[("ear_corr", "all", "all"), "mean"] == pytest.approx(0.7)


def test_without_a_seed_no_bootstrap_and_the_rest_unchanged():
    frames = _frames([("a", 0, 0.2, "frontal"), ("b", 0, 0.4, "extreme"), ("c", 0, 0.9, "extreme")])
    full, quick = aggregate(frames, seed=0), aggregate(frames, seed=None)
    assert quick[["ci_low", "ci_high"]].isna().all().all() and full["ci_low"].notna().any()
    pd.testing.assert_frame_equal(quick.drop(columns=["ci_low", "ci_high"]), full.drop(columns=["ci_low", "ci_high"]))
