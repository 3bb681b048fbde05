"""Per-clip values and the statistics over them: where the gate, compare and the report take numbers from.

The unit of evidence is the clip, not the frame: frames of one clip are strongly correlated, so a
bootstrap over frames would give far too narrow intervals, and a frame mean would let one long clip
outweigh ten short ones. One rule gives a clip's value under a selector:

- a frame-level metric: the mean of the clip's frames that match the selector (NaN frames ignored);
- a clip-level metric (one value per clip): the clip's value when the clip's own condition matches,
  where a clip's condition on an axis is the most common value among its frames (`clip_conditions`).

A clip without a value (no matching frame, only NaN frames, a failed pair) has none: it is left out
of every statistic and ranking, never filled in; two runs are paired on the clips both have. A run's
interval over clips is `bootstrap` (`scipy.stats.bootstrap`); paired tests of two runs are in
`condition_stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_harness.records import (
    CLIP_METRIC_PREFIX,
    COND_PREFIX,
    METRIC_ERRORS,
    METRIC_PREFIX,
    condition_columns,
    metric_columns,
)
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import Selector

AGGREGATORS: dict[str, Callable[..., np.ndarray]] = {
    "mean": lambda x, axis=-1: np.mean(x, axis=axis),
    "median": lambda x, axis=-1: np.median(x, axis=axis),
    "p10": lambda x, axis=-1: np.percentile(x, 10, axis=axis),
    "p90": lambda x, axis=-1: np.percentile(x, 90, axis=axis),
}
EVERY_FRAME = Selector()


def clip_means(frames: pd.DataFrame, selector: Selector = EVERY_FRAME) -> pd.DataFrame:
    """One row per clip with a frame matching `selector`, in record order: the mean of each frame-level
    metric over those frames (`metric:<name>` columns, NaN when all were NaN) and `frames` (how many)."""
    columns = [METRIC_PREFIX + m for m in metric_columns(frames)]
    grouped = frames.loc[selector.mask(frames), ["pair_id", *columns]].groupby("pair_id", sort=False)
    means = grouped[columns].mean()
    means["frames"] = grouped.size()
    return means


def clip_conditions(frames: pd.DataFrame) -> pd.DataFrame:
    """One row per clip (index pair_id, record order), a `cond:<axis>` column per axis: the clip's most
    common value on that axis (ties: the smallest), missing when none of its frames has one."""
    columns = [COND_PREFIX + a for a in condition_columns(frames)]
    if not columns:
        return pd.DataFrame(index=pd.Index(frames["pair_id"].unique() if len(frames) else [], name="pair_id"))
    return frames.groupby("pair_id", sort=False)[columns].agg(lambda s: s.mode().iat[0] if s.notna().any() else None)


def clip_level_table(run: RunRecords) -> pd.DataFrame:
    """Finished clips (index pair_id, per-pair table order): `clip_metric:<name>` values, `frames`, and each
    clip's condition (`clip_conditions`), so that a selector picks clips as it picks frames."""
    if run.clips is None or run.clips.empty or not run.clip_metrics():
        return pd.DataFrame()
    columns = [CLIP_METRIC_PREFIX + m for m in run.clip_metrics()]
    table = run.clips[run.clips["status"] == "ok"].set_index("pair_id")[[*columns, "frames"]]
    return table.join(clip_conditions(run.frames)) if len(run.frames) else table


def clip_values(run: RunRecords, metric: str, selector: Selector = EVERY_FRAME) -> pd.Series:
    """pair_id -> the clip's value of `metric` under `selector` (module docstring); clips without one left out."""
    if run.is_clip_metric(metric):
        table = clip_level_table(run)
        return table.loc[selector.mask(table), CLIP_METRIC_PREFIX + metric].dropna()
    column = METRIC_PREFIX + metric
    selected = run.frames.loc[selector.mask(run.frames), ["pair_id", column]]
    return selected.groupby("pair_id", sort=False)[column].mean().dropna()


def paired_values(candidate: pd.Series, baseline: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Values of the clips present in both runs, in one (sorted) pair-id order."""
    common = candidate.index.intersection(baseline.index).sort_values()
    return candidate[common].to_numpy(float), baseline[common].to_numpy(float), list(common)


@dataclass(frozen=True, slots=True)
class Interval:
    point: float
    low: float
    high: float


def _interval(
    samples: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    point: float,
    *,
    method: str,
    confidence: float,
    resamples: int,
    seed: int,
) -> Interval:
    """The one bootstrap engine; a degenerate sample (every resample gives the point) gives it as both ends."""
    from scipy import stats  # here: its import took 1.8-3.4 s on a busy 2-core machine; only intervals need it

    result = stats.bootstrap(
        samples,
        statistic,
        paired=len(samples) > 1,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="BCa" if method == "bca" else method,
        rng=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        return Interval(point, point, point)
    return Interval(point, low, high)


def bootstrap(
    values: np.ndarray,
    aggregate: str = "mean",
    *,
    method: str = "percentile",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """CI of aggregate(values) over clips; NaN ends for fewer than two values (NaN values are dropped)."""
    agg = AGGREGATORS[aggregate]
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        point = float(agg(values)) if len(values) else float("nan")
        return Interval(point, float("nan"), float("nan"))
    point = float(agg(values))
    if np.all(values == values[0]):
        return Interval(point, point, point)
    return _interval((values,), agg, point, method=method, confidence=confidence, resamples=resamples, seed=seed)


def clip_regression(candidate: pd.Series, against: pd.Series | float, higher_is_better: bool) -> pd.Series:
    """pair_id -> how much worse each clip's candidate value is than `against` (positive = worse): a
    baseline's clip values (paired clips only: a clip without a value on either side is left out, never
    filled in) or one bound (an absolute threshold)."""
    badness = -candidate if higher_is_better else candidate
    return (badness - (-against if higher_is_better else against)).dropna()


@dataclass(frozen=True, slots=True)
class WorstClips:
    """Clips ranked worst first; `unpaired`: clips with a candidate value but none in the baseline, which a
    ranking by regression cannot place (listed, not ranked)."""

    ranked: tuple[str, ...]
    unpaired: tuple[str, ...] = ()


def worst_clips(
    candidate: pd.Series, baseline: pd.Series | None, higher_is_better: bool, k: int, *, beyond: float | None = None
) -> WorstClips:
    """The `k` clips with the largest regression against the baseline (`clip_regression`), or without a
    baseline the `k` worst values; ties keep pair-id order. `beyond` (a regression limit, with a baseline):
    only the clips that regress past it, when any does (a clip that did not regress is not named)."""
    badness = -candidate if higher_is_better else candidate
    unpaired: tuple[str, ...] = ()
    if baseline is not None:
        badness = clip_regression(candidate, baseline, higher_is_better)
        if beyond is not None and (badness > beyond).any():
            badness = badness[badness > beyond]
        else:
            unpaired = tuple(sorted(str(p) for p in candidate.index.difference(baseline.index)))
    ordered = badness.sort_index().sort_values(ascending=False, kind="stable")
    return WorstClips(tuple(ordered.index[:k]), unpaired)


def frame_values(run: RunRecords, pair_id: str, metric: str, selector: Selector = EVERY_FRAME) -> pd.Series:
    """frame -> one clip's values of a frame-level `metric` on its frames under `selector`, in frame order."""
    rows = run.frames[(run.frames["pair_id"] == pair_id) & selector.mask(run.frames)]
    return rows.set_index("frame")[METRIC_PREFIX + metric].sort_index()


@dataclass(frozen=True, slots=True)
class ClipRow:
    """One pair as a per-clip listing shows it: how it went, its condition on each axis (`clip_conditions`,
    None where its frames have none; axes left out when no frame of the run has one), its errors (the pair's
    and its metrics'), its mean of each frame-level metric (NaN without frames) and its clip-level values."""

    pair_id: str
    status: str
    conditions: dict[str, str | None]
    errors: str
    frame_means: dict[str, float]
    clip_values: dict[str, float]


def clip_rows(run: RunRecords) -> list[ClipRow]:
    """A `ClipRow` per pair, in per-pair table order (without one: the frame table's clips, all "ok")."""
    metrics = run.frame_metrics()
    clip_level = [m for m in run.clip_metrics() if m not in metrics]
    means = clip_means(run.frames)
    axes = condition_columns(run.frames)
    conds = clip_conditions(run.frames) if axes else None
    clips = run.clips if run.clips is not None else pd.DataFrame({"pair_id": means.index, "status": "ok"})
    rows = []
    for record in clips.to_dict("records"):
        pair_id = record["pair_id"]
        known = conds is not None and pair_id in conds.index
        errors = (record.get("error"), record.get(METRIC_ERRORS))
        rows.append(
            ClipRow(
                pair_id=pair_id,
                status=record["status"],
                conditions={a: conds.at[pair_id, COND_PREFIX + a] for a in axes} if known else {},
                errors="; ".join(e for e in errors if isinstance(e, str) and e),
                frame_means={
                    m: means.at[pair_id, METRIC_PREFIX + m] if pair_id in means.index else np.nan for m in metrics
                },
                clip_values={m: record.get(CLIP_METRIC_PREFIX + m, np.nan) for m in clip_level},
            )
        )
    return rows
