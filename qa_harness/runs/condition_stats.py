"""Condition-level statistics of a paired regression: a test with power on few clips, and a family
correction so that many conditions tested at once do not manufacture failures.

Model (random effects, one per condition): the per-frame regression of the candidate against the
baseline (positive = worse, paired by pair id and frame) is

    delta[clip, frame] = mu + b[clip] + e[clip, frame]

`b` is the clip's own run-to-run shift (a retrained checkpoint is a little better on some clips and
worse on others; variance `tau2`), `e` the frame noise within a clip (autocorrelated). The estimate
of `mu` is the mean of the clip means. Its variance has two parts:

- within clips: from *segments* (contiguous blocks of frames) of each clip, so autocorrelated
  frames are not counted as independent evidence;
- between clips: `tau2` *borrowed* from the run's clips outside the condition (hierarchical: those
  clips are not touched by a regression confined to the condition, and show how much one clip moves
  between two runs of one model, which is the null hypothesis); a condition with `min_clips` clips
  or more is also tested with its own clips' spread, and the two tests are Simes-combined (a
  condition of 5 clips alone gives 4 degrees of freedom, too few to pass a family correction over
  ~100 checks; the clips outside lose power when a regression hits them unevenly).

So a condition with one clip is still tested, fairly: its segments say how precisely the clip's
change is measured, and the other clips say how much a clip changes by chance between runs; with a
single clip in the whole run there is no between-clip variance at all, and the condition is not
gated (a change of one clip cannot be told from that clip's run-to-run noise). The test is a
one-sided t-test of `H0: mu <= limit` with the degrees of freedom of the variance used.
Non-mean aggregates (p10, p90, median over clips) use a paired bootstrap over clips for the
standard error. A family of tests (all relative checks of one gate, all cells of one comparison) is
corrected with Holm (family-wise error) or Benjamini-Hochberg; each test's interval is reported at
the level the correction used for it, so a test rejects exactly when its interval excludes the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from qa_harness.records import CLIP_METRIC_PREFIX, METRIC_PREFIX
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import Selector
from qa_harness.runs.stats import clip_level_table

#: Segments per clip for the within-clip variance (fewer when a clip has fewer than 2 frames a segment).
SEGMENTS, MIN_SEGMENT = 5, 2
#: Power at which the minimum detectable effect is stated.
POWER = 0.8
CORRECTIONS = ("holm", "bh")


class NotTestable(ValueError):
    """A condition whose regression cannot be tested; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class ClipDeltas:
    """Per clip: mean regression over its frames, the variance of that mean within the clip, frames."""

    mean: pd.Series
    within: pd.Series
    frames: pd.Series

    def __len__(self) -> int:
        return len(self.mean)

    def drop(self, pair_ids) -> ClipDeltas:
        keep = ~self.mean.index.isin(list(pair_ids))
        return ClipDeltas(self.mean[keep], self.within[keep], self.frames[keep])


@dataclass(frozen=True, slots=True)
class ConditionTest:
    """Estimate and standard error of one condition's regression (metric units, positive = worse)."""

    point: float
    se: float
    df: float
    n_clips: int
    n_frames: int
    variance: str  # where the between-clip variance came from, for the message

    def p_value(self, limit: float) -> float:
        """One-sided p of H0 `regression <= limit`."""
        if self.se == 0:
            return 0.0 if self.point > limit else 1.0
        return float(stats.t.sf((self.point - limit) / self.se, self.df))

    def p_two_sided(self) -> float:
        """Two-sided p of H0 `regression == 0`. A delta of exactly 0 without spread (every clip equal to the
        reference, as event F1 of a model that catches every event) has p 1: the one-sided p of a
        spread-less test is 0 or 1, and 1 would double to p 0, i.e. "worse"."""
        if self.se == 0 and self.point == 0:
            return 1.0
        one = self.p_value(0.0)
        return min(1.0, 2 * min(one, 1 - one))

    def interval(self, level: float) -> tuple[float, float]:
        """Two-sided interval whose lower end is the one-sided bound at error `level`."""
        half = float(stats.t.isf(level, self.df)) * self.se
        return self.point - half, self.point + half

    def detectable(self, limit: float, level: float, power: float = POWER) -> float:
        """The smallest regression this test catches with probability `power` at error `level`."""
        return limit + float(stats.t.isf(level, self.df) + stats.t.ppf(power, self.df)) * self.se


def _simes(a: float, b: float) -> float:
    """Simes' combination of two p-values: valid under positive dependence (Sarkar 2008), as two
    tests of one point estimate have; rejects when one rejects at half the level or both at the level."""
    return min(1.0, 2 * min(a, b), max(a, b))


@dataclass(frozen=True, slots=True)
class EitherTest:
    """Two tests of one estimate, combined with Simes: the condition's mean with two estimates of the
    between-clip variance, its own spread (valid whatever happens outside, weak on few clips) and the
    spread of the clips outside (strong on few clips; inflated when a regression hits the clips
    outside unevenly). The interval is the one the combined decision implies: its lower end is
    beyond a limit exactly when the combined one-sided p at that limit is below the level."""

    own: ConditionTest
    borrowed: ConditionTest

    @property
    def point(self) -> float:
        return self.own.point

    @property
    def n_clips(self) -> int:
        return self.own.n_clips

    @property
    def n_frames(self) -> int:
        return self.own.n_frames

    @property
    def variance(self) -> str:
        return f"{self.borrowed.variance}, and their own spread (df {self.own.df:g}), Simes-combined"

    def p_value(self, limit: float) -> float:
        return _simes(self.own.p_value(limit), self.borrowed.p_value(limit))

    def p_two_sided(self) -> float:
        return _simes(self.own.p_two_sided(), self.borrowed.p_two_sided())

    def interval(self, level: float) -> tuple[float, float]:
        (a_lo, a_hi), (b_lo, b_hi) = self.own.interval(level / 2), self.borrowed.interval(level / 2)
        (c_lo, c_hi), (d_lo, d_hi) = self.own.interval(level), self.borrowed.interval(level)
        return max(a_lo, b_lo, min(c_lo, d_lo)), min(a_hi, b_hi, max(c_hi, d_hi))

    def detectable(self, limit: float, level: float, power: float = POWER) -> float:
        own, borrowed = self.own.detectable, self.borrowed.detectable
        both = max(own(limit, level, power), borrowed(limit, level, power))
        return min(own(limit, level / 2, power), borrowed(limit, level / 2, power), both)


def paired_deltas(candidate: pd.DataFrame, baseline: pd.DataFrame, column: str, higher_is_better: bool) -> pd.DataFrame:
    """Frames present in both tables, paired by (pair_id, frame): `pair_id`, `frame`, `delta` (positive =
    candidate worse); `candidate` keeps its other columns (conditions) for selecting."""
    base = baseline[["pair_id", "frame", column]].rename(columns={column: "_base"})
    merged = candidate.merge(base, on=["pair_id", "frame"], how="inner")
    diff = merged[column].to_numpy(float) - merged["_base"].to_numpy(float)
    merged["delta"] = -diff if higher_is_better else diff
    return merged[np.isfinite(merged["delta"].to_numpy())].drop(columns="_base")


def run_deltas(candidate: RunRecords, baseline: RunRecords, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """`paired_deltas` of one metric of two runs; a per-clip metric (no frame values) is one row per clip
    (frame 0), so it has no within-clip variance."""
    if candidate.is_clip_metric(metric):
        cand, base = (clip_level_table(r).reset_index().assign(frame=0) for r in (candidate, baseline))
        return paired_deltas(cand, base, CLIP_METRIC_PREFIX + metric, higher_is_better)
    return paired_deltas(candidate.frames, baseline.frames, METRIC_PREFIX + metric, higher_is_better)


@dataclass(frozen=True)
class PairedDeltas:
    """The paired regressions of one metric of two runs (`run_deltas`) and their whole-run clip summaries,
    computed once, then cut by condition: what the gate's rules and compare's cells test alike."""

    frames: pd.DataFrame
    clips: ClipDeltas

    @classmethod
    def of(cls, candidate: RunRecords, baseline: RunRecords, metric: str, higher_is_better: bool) -> PairedDeltas:
        frames = run_deltas(candidate, baseline, metric, higher_is_better)
        return cls(frames, clip_deltas(frames))

    def frames_in(self, selector: Selector) -> pd.DataFrame:
        """The paired frames (rows of `frames`) under `selector`."""
        return self.frames[selector.mask(self.frames)]

    def condition(self, selector: Selector) -> ClipDeltas:
        """Per-clip summaries of the paired frames under `selector`."""
        return clip_deltas(self.frames_in(selector))

    def mean_test(self, condition: ClipDeltas, *, min_clips: int) -> ConditionTest | EitherTest:
        """`mean_test` of `condition` (from `condition`) against the run's clips outside it."""
        return mean_test(condition, self.clips.drop(condition.mean.index), min_clips=min_clips)


def _within(values: np.ndarray) -> float:
    """Variance of the mean of one clip's frames (in frame order), from contiguous segments."""
    n = len(values)
    blocks = min(SEGMENTS, n // MIN_SEGMENT)
    if blocks >= 2:
        means = np.array([part.mean() for part in np.array_split(values, blocks)])
        return float(means.var(ddof=1) / blocks)
    return float(values.var(ddof=1) / n) if n >= 2 else math.nan


def clip_deltas(deltas: pd.DataFrame) -> ClipDeltas:
    """Per-clip summaries of `paired_deltas` rows (one clip's frames in frame order)."""
    ordered = deltas.sort_values(["pair_id", "frame"], kind="stable")
    groups = ordered.groupby("pair_id", sort=True)["delta"]
    mean = groups.mean()
    within = groups.agg(lambda s: _within(s.to_numpy(float)))
    if within.isna().any():  # one-frame clips: the per-frame variance of the others, per frame
        per_frame = groups.var(ddof=1).mean()
        within = within.fillna(per_frame if np.isfinite(per_frame) else 0.0)
    return ClipDeltas(mean, within, groups.size())


def _centred_squares(clips: ClipDeltas) -> float:
    return float(((clips.mean - clips.mean.mean()) ** 2).sum()) if len(clips) else 0.0


def _random_effects(condition: ClipDeltas, groups: Sequence[ClipDeltas], variance: str) -> ConditionTest:
    """The test of `condition`'s mean with `tau2` from `groups` (of 2 clips or more), each around its mean."""
    k, df = len(condition), sum(len(g) - 1 for g in groups)
    within = pd.concat([g.within for g in groups])
    tau2 = max(0.0, sum(_centred_squares(g) for g in groups) / df - float(within.mean()))
    se = math.sqrt((k * tau2 + float(condition.within.sum())) / k**2)
    return ConditionTest(float(condition.mean.mean()), se, float(df), k, int(condition.frames.sum()), variance)


def mean_test(condition: ClipDeltas, reference: ClipDeltas, *, min_clips: int) -> ConditionTest | EitherTest:
    """The random-effects test of the mean regression of `condition` (see the module docstring).

    `reference` is the run's clips outside the condition, untouched by a regression confined to it;
    they show how much a clip moves between two runs of one model (the null hypothesis), so their
    between-clip variance `tau2` is *borrowed*. With fewer than `min_clips` clips, the borrowed test
    alone (the condition's own spread is left out: a real regression hits its clips unevenly; with
    fewer than 2 clips outside, both groups are pooled, each around its own mean). With `min_clips`
    or more, the condition's own spread too, and the two tests Simes-combined (`EitherTest`): a
    5-clip condition alone has 4 degrees of freedom, borrowed from 86 clips 85, which decides whether
    a 0.05 SSIM loss is caught once a family of ~100 checks is corrected; the own spread keeps the
    power when a regression hits the clips outside unevenly (which inflates the borrowed spread)."""
    k, n = len(condition), len(reference)
    if k == 0:
        raise NotTestable("no paired frames in this condition")
    with_own = k >= 2 and (k >= min_clips or n == 0)  # the condition's own spread is used
    own = _random_effects(condition, [condition], f"between {k} clips") if with_own else None
    if own is not None and n < 2:
        return own
    groups = [reference] if n >= 2 else [g for g in (condition, reference) if len(g) >= 2]
    if not groups:
        raise NotTestable(f"{k} clip in the run, no between-clip variance to judge a change against (needs 2)")
    source = f"from {n} clips outside" if n >= 2 else f"with {n} clip(s) outside"
    borrowed = _random_effects(condition, groups, f"{k} clip(s), between-clip variance {source}")
    return borrowed if own is None else EitherTest(own, borrowed)


def bootstrap_test(
    candidate: np.ndarray,
    baseline: np.ndarray,
    aggregate: Callable[..., np.ndarray],
    *,
    resamples: int,
    seed: int,
    n_frames: int = 0,
) -> ConditionTest:
    """regression = aggregate(candidate) - aggregate(baseline) over paired clip values (already oriented so
    that larger = worse), its standard error from clips resampled jointly."""
    k = len(candidate)
    if k < 2:
        raise NotTestable(f"{k} clip(s): an aggregate over clips needs at least 2")
    point = float(aggregate(candidate) - aggregate(baseline))
    index = np.random.default_rng(seed).integers(0, k, size=(resamples, k))
    replicas = aggregate(candidate[index], axis=-1) - aggregate(baseline[index], axis=-1)
    return ConditionTest(point, float(np.std(replicas, ddof=1)), k - 1.0, k, n_frames, f"bootstrap over {k} clips")


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        out[index] = running
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        running = min(running, m * p[order[rank]] / (rank + 1))
        out[order[rank]] = running
    return out


@dataclass(frozen=True, slots=True)
class FamilyDecision:
    """Per test of a family: adjusted p, rejected, and the error level its interval is reported at."""

    adjusted: np.ndarray
    rejected: np.ndarray
    levels: np.ndarray


def correct(p_values: Sequence[float], alpha: float, method: str = "holm") -> FamilyDecision:
    """Family correction at family-wise (holm) or false-discovery (bh) level `alpha`.

    Levels make intervals agree with the decision: Holm reports a rejected test at its step's level
    alpha/(m - rank) and the others at the step where it stopped; BH reports all at alpha * R / m (R =
    rejections, at least 1), the false-coverage-rate interval of Benjamini and Yekutieli (2005)."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    adjusted = holm(p) if method == "holm" else benjamini_hochberg(p)
    rejected = np.isfinite(adjusted) & (adjusted <= alpha)
    m = int(np.isfinite(p).sum())
    levels = np.full_like(p, np.nan)
    if m == 0:
        return FamilyDecision(adjusted, rejected, levels)
    if method == "bh":
        levels[np.isfinite(p)] = alpha * max(1, int(rejected.sum())) / m
        return FamilyDecision(adjusted, rejected, levels)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    stop = int(rejected.sum())  # Holm rejects a prefix of the sorted p-values
    for rank, index in enumerate(order):
        levels[index] = alpha / (m - min(rank, stop))
    return FamilyDecision(adjusted, rejected, levels)
