"""Per-clip and per-condition statistics of a run's frame records (the `ConditionTable`).

Clips are the unit of statistics: a frame-level mean would let one long clip outweigh ten short
ones, and frames of one clip are not independent samples. So each clip's frames are averaged first
(per condition value, since a curated suite tags conditions per frame), then mean / median / p10 /
p90 and a seeded bootstrap 95 % CI of the mean are taken over clips.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qa_harness.records import COND_PREFIX, METRIC_PREFIX, condition_columns, metric_columns
from qa_harness.store import CLIP_METRIC_PREFIX

ALL = "all"


def condition_label(axis: str, value: str) -> str:
    """How a row of the condition table is named: `all`, or `axis=value` (as a gate selector prints it)."""
    return ALL if axis == ALL else f"{axis}={value}"
STAT_COLUMNS = ("clips", "frames", "mean", "median", "p10", "p90", "ci_low", "ci_high")


def bootstrap_ci(values: np.ndarray, *, seed: int, n_boot: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean; NaN for fewer than two values."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def _stats(values: np.ndarray, frames: int, seed: int | None) -> dict[str, float]:
    """Statistics over clips; `seed=None` skips the bootstrap (CI columns NaN)."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return dict.fromkeys(STAT_COLUMNS, float("nan")) | {"clips": 0, "frames": frames}
    low, high = bootstrap_ci(v, seed=seed) if seed is not None else (float("nan"), float("nan"))
    return {
        "clips": len(v), "frames": frames, "mean": float(v.mean()), "median": float(np.median(v)),
        "p10": float(np.quantile(v, 0.1)), "p90": float(np.quantile(v, 0.9)), "ci_low": low, "ci_high": high,
    }


def clip_means(frames: pd.DataFrame, axis: str | None = None) -> pd.DataFrame:
    """Metric means per clip (and per value of `axis` within a clip); one row per group."""
    keys = ["pair_id"] + ([COND_PREFIX + axis] if axis else [])
    cols = [METRIC_PREFIX + m for m in metric_columns(frames)]
    grouped = frames.groupby(keys, sort=False, dropna=True)
    means = grouped[cols].mean()
    means["frames"] = grouped.size()
    return means.reset_index()


def _clip_level(frames: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """Clip-level metrics (e.g. trajectory correlations) with each clip's most common conditions."""
    cols = [c for c in clips.columns if c.startswith(CLIP_METRIC_PREFIX)]
    if not cols or frames.empty:
        return pd.DataFrame()
    conds = [COND_PREFIX + a for a in condition_columns(frames)]
    table = clips[clips["status"] == "ok"].set_index("pair_id")[cols + ["frames"]]
    if not conds:
        return table.reset_index()
    modes = frames.groupby("pair_id", sort=False)[conds].agg(lambda s: s.mode().iat[0] if s.notna().any() else None)
    return table.join(modes).reset_index()


def aggregate(frames: pd.DataFrame, clips: pd.DataFrame | None = None, *, seed: int | None = 0) -> pd.DataFrame:
    """The ConditionTable: one row per metric x (axis, value), with ('all', 'all') for the whole run.

    `seed` seeds the bootstrap CI of the mean; None skips it (a reader that needs the other statistics only).
    """
    if frames.empty:
        return pd.DataFrame(columns=["metric", "axis", "value", *STAT_COLUMNS])
    rows = []
    metrics = metric_columns(frames)
    axes = condition_columns(frames)
    overall = clip_means(frames)
    for m in metrics:
        col = overall[METRIC_PREFIX + m]
        rows.append({"metric": m, "axis": ALL, "value": ALL} | _stats(
            col.to_numpy(float), int(overall.loc[col.notna(), "frames"].sum()), seed))
    for axis in axes:
        per = clip_means(frames, axis)
        for value, group in per.groupby(COND_PREFIX + axis, sort=True):
            for m in metrics:
                col = group[METRIC_PREFIX + m]
                rows.append({"metric": m, "axis": axis, "value": str(value)} | _stats(
                    col.to_numpy(float), int(group.loc[col.notna(), "frames"].sum()), seed))
    clip_level = _clip_level(frames, clips) if clips is not None and not clips.empty else pd.DataFrame()
    for col in [c for c in clip_level.columns if c.startswith(CLIP_METRIC_PREFIX)]:
        name = col[len(CLIP_METRIC_PREFIX):]
        groups = [(ALL, ALL, clip_level)] + [
            (axis, str(v), g) for axis in axes for v, g in clip_level.groupby(COND_PREFIX + axis, sort=True)
        ]
        for axis, value, g in groups:
            rows.append({"metric": name, "axis": axis, "value": value} | _stats(
                g[col].to_numpy(float), int(g.loc[g[col].notna(), "frames"].sum()), seed))
    return pd.DataFrame(rows)
