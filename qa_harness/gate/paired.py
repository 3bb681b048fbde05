"""Per-clip values and paired statistics shared by the gate, `compare` and the report.

The unit of evidence is the clip, not the frame: frames of one clip are strongly correlated, so a
bootstrap over frames would give far too narrow intervals. A clip's value under a condition is the
mean of its frames that match the condition (NaN frames ignored); two runs are paired by pair id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from qa_harness.errors import QaHarnessError
from qa_harness.gate.selectors import Selector
from qa_harness.records import METRIC_PREFIX, metric_columns

AGGREGATORS: dict[str, Callable[..., np.ndarray]] = {
    "mean": lambda x, axis=-1: np.mean(x, axis=axis),
    "median": lambda x, axis=-1: np.median(x, axis=axis),
    "p10": lambda x, axis=-1: np.percentile(x, 10, axis=axis),
    "p90": lambda x, axis=-1: np.percentile(x, 90, axis=axis),
}


@dataclass(frozen=True)
class RunRecords:
    """What the gate, compare and report read of one evaluation run."""

    run_id: str
    name: str
    suite: str
    suite_version: str
    frames: pd.DataFrame  # wide per-frame records (records.records_to_frame layout)
    clips: pd.DataFrame | None = None  # one row per pair: pair_id, status, frames, seconds, error, ...
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: Metric column -> True when higher is better, as recorded by `evaluate` (summary.json); None for a
    #: descriptive column (a value reported for context, not a quality score).
    higher_is_better: Mapping[str, bool | None] = field(default_factory=dict)

    def has_metric(self, metric: str) -> bool:
        return METRIC_PREFIX + metric in self.frames.columns

    def direction(self, metric: str) -> bool:
        """True when higher values of `metric` are better, as this run recorded it."""
        if metric not in self.higher_is_better:
            raise QaHarnessError(
                f"run {self.run_id} does not record whether higher or lower {metric!r} is better (its "
                "summary.json artifact, written by `qa-harness evaluate`, has no 'higher_is_better' entry for "
                "it); a gate policy rule can state it as 'higher_is_better'"
            )
        if self.higher_is_better[metric] is None:
            raise QaHarnessError(
                f"{metric!r} is a descriptive column of run {self.run_id}, not a quality score: neither higher nor "
                "lower is better; a gate policy rule can still state 'higher_is_better'"
            )
        return self.higher_is_better[metric]

    def scored_metrics(self) -> list[str]:
        """The metric columns that are quality scores (descriptive ones left out), in record order."""
        return [m for m in metric_columns(self.frames) if self.higher_is_better.get(m, False) is not None]

    def failed_clips(self) -> list[str]:
        if self.clips is None or "status" not in self.clips:
            return []
        return sorted(self.clips.loc[self.clips["status"] != "ok", "pair_id"].astype(str))


def clip_values(frames: pd.DataFrame, metric: str, selector: Selector) -> pd.Series:
    """pair_id -> mean of the clip's frames that match `selector` (clips with no such frame dropped)."""
    column = METRIC_PREFIX + metric
    selected = frames.loc[selector.mask(frames), ["pair_id", column]]
    return selected.groupby("pair_id", sort=True)[column].mean().dropna()


def paired_values(candidate: pd.Series, baseline: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Values of the clips present in both runs, in one pair-id order."""
    common = candidate.index.intersection(baseline.index).sort_values()
    return candidate[common].to_numpy(float), baseline[common].to_numpy(float), list(common)


def check_same_suite(candidate: RunRecords, baseline: RunRecords, *, allow_mismatch: bool) -> None:
    """Refuse to pair clips of runs on different suite versions (their clips may differ)."""
    if (candidate.suite, candidate.suite_version) != (
        baseline.suite,
        baseline.suite_version,
    ) and not allow_mismatch:
        raise QaHarnessError(
            f"runs are on different suites: candidate {candidate.run_id} has {candidate.suite}@"
            f"{candidate.suite_version}, baseline {baseline.run_id} has {baseline.suite}@"
            f"{baseline.suite_version}; re-evaluate both on one suite version, or pass "
            "--allow-suite-mismatch to pair clips by pair id anyway"
        )


@dataclass(frozen=True, slots=True)
class Interval:
    point: float
    low: float
    high: float


def paired_bootstrap(
    candidate: np.ndarray,
    baseline: np.ndarray,
    aggregate: str,
    *,
    method: str = "percentile",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """CI of aggregate(candidate) - aggregate(baseline), resampling clips jointly (paired).

    For the mean this is the CI of the mean per-clip delta. A degenerate sample (all deltas equal,
    where the interval cannot be estimated) gives the point value as both ends.
    """
    agg = AGGREGATORS[aggregate]
    point = float(agg(candidate) - agg(baseline))
    if len(candidate) < 2 or np.allclose(candidate - baseline, (candidate - baseline)[0], atol=0, rtol=0):
        return Interval(point, point, point)
    result = stats.bootstrap(
        (candidate, baseline),
        lambda c, b, axis=-1: agg(c, axis=axis) - agg(b, axis=axis),
        paired=True,
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
