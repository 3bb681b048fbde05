"""The condition table: clips are the unit, per-condition rows for every tag value, seeded bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qa_harness.runs.selectors import parse_selector
from qa_harness.runs.stats import clip_values
from qa_harness.runs.table import COLUMNS, condition_table
from tests.helpers.runs import records


def _frames(rows):
    return pd.DataFrame(rows, columns=["pair_id", "frame", "metric:l1", "cond:pose"])


def _table(frames, clips=None, **kw) -> pd.DataFrame:
    return condition_table(records(frames, clips), **kw).frame()


def test_clips_are_weighted_equally_and_conditions_split():
    frames = _frames([("a", i, 0.1, "frontal") for i in range(10)] + [("b", 0, 0.5, "extreme")])
    table = _table(frames).set_index(["metric", "axis", "value"])
    overall = table.loc[("l1", "all", "all")]
    assert overall["mean"] == pytest.approx(0.3) and overall["clips"] == 2 and overall["frames"] == 11
    assert table.loc[("l1", "pose", "frontal"), "mean"] == pytest.approx(0.1)
    assert table.loc[("l1", "pose", "extreme"), "frames"] == 1


def test_per_frame_conditions_split_a_clip():
    frames = _frames([("a", 0, 0.2, "frontal"), ("a", 1, 0.4, "extreme"), ("b", 0, 0.6, "extreme")])
    table = _table(frames).set_index(["metric", "axis", "value"])
    assert table.loc[("l1", "pose", "extreme"), "mean"] == pytest.approx(0.5)  # clip a's extreme frame, clip b
    assert table.loc[("l1", "pose", "extreme"), "clips"] == 2


def test_clip_level_metrics_without_tags():
    frames = pd.DataFrame({"pair_id": ["a", "a", "b"], "frame": [0, 1, 0], "metric:l1": [0.1, 0.2, 0.3]})
    clips = pd.DataFrame(
        {"pair_id": ["a", "b"], "status": ["ok", "ok"], "frames": [2, 1], "clip_metric:ear_corr": [0.9, 0.5]}
    )
    table = _table(frames, clips).set_index(["metric", "axis", "value"])
    assert table.loc[("ear_corr", "all", "all"), "mean"] == pytest.approx(0.7)


def test_without_a_seed_no_bootstrap_and_the_rest_unchanged():
    frames = _frames([("a", 0, 0.2, "frontal"), ("b", 0, 0.4, "extreme"), ("c", 0, 0.9, "extreme")])
    full, quick = _table(frames, seed=0), _table(frames, seed=None)
    assert quick[["ci_low", "ci_high"]].isna().all().all() and full["ci_low"].notna().any()
    pd.testing.assert_frame_equal(quick.drop(columns=["ci_low", "ci_high"]), full.drop(columns=["ci_low", "ci_high"]))


def test_every_row_is_the_statistics_of_the_clip_values_the_gate_reads():
    """One rule: a row's clips are exactly `clip_values` under its condition, for frame- and clip-level metrics
    (clip a is mostly `extreme`, so its clip-level value counts there, its frame-level ones in both)."""
    rng = np.random.default_rng(3)
    poses = {"a": ["frontal", "extreme", "extreme"], "b": ["frontal"] * 3, "c": ["extreme", "frontal", "extreme"]}
    frames = _frames([(p, i, float(rng.uniform()), pose) for p, seq in poses.items() for i, pose in enumerate(seq)])
    clips = pd.DataFrame({"pair_id": list(poses), "status": "ok", "frames": 3, "clip_metric:ear_corr": [0.9, 0.5, 0.1]})
    run = records(frames, clips)
    table = condition_table(run)
    assert list(table.frame().columns) == list(COLUMNS) and len(table) == 2 * 3
    for row in table:
        values = clip_values(run, row.metric, parse_selector(row.condition).concrete).to_numpy()
        assert (row.clips, row.mean) == (len(values), pytest.approx(values.mean(), abs=0, rel=1e-15))
        assert row.median == pytest.approx(np.median(values))
    by = {(r.metric, r.condition): r for r in table}
    assert by["ear_corr", "pose=extreme"].mean == pytest.approx((0.9 + 0.1) / 2)
    assert by["ear_corr", "pose=frontal"].mean == pytest.approx(0.5)
    assert by["l1", "pose=extreme"].clips == 2 and by["l1", "pose=frontal"].clips == 3
