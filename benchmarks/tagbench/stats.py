"""Statistics for tag-accuracy tables: bootstrap CIs, precision/recall, errors, confusion tables.

Every figure comes with its count and a 95 % interval: the labelled sets are small (tens of images),
so a point value alone would overstate what they show. Means use a seeded percentile bootstrap
(same numbers on every run); proportions use the Wilson score interval, which stays honest at 0/n
and n/n where a bootstrap collapses to a point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0
_Z = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True, slots=True)
class Estimate:
    """A statistic over `n` items with its 95 % interval."""

    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Estimate:
    """`statistic` of `values` (NaN left out) with a seeded percentile-bootstrap 95 % interval."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(x[rng.integers(0, x.size, x.size)]) for _ in range(resamples)])
    low, high = np.percentile(draws, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return Estimate(float(statistic(x)), float(low), float(high), int(x.size))


def proportion(hits: int, n: int) -> Estimate:
    """hits / n with the Wilson score 95 % interval (NaN when n is 0)."""
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    p = hits / n
    centre = (p + _Z**2 / (2 * n)) / (1 + _Z**2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n**2)) / (1 + _Z**2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


@dataclass(frozen=True, slots=True)
class Detection:
    """Binary tag vs truth: the four counts, precision and recall with intervals."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> Estimate:
        return proportion(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> Estimate:
        return proportion(self.tp, self.tp + self.fn)


def detection(predicted: Sequence[bool], truth: Sequence[bool]) -> Detection:
    """Counts of a binary tag (`predicted`) against labels (`truth`), item by item."""
    p, t = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"detection: {p.shape} predictions for {t.shape} labels")
    return Detection(int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum()), int((~p & ~t).sum()))


@dataclass(frozen=True, slots=True)
class Errors:
    """Estimate minus truth: mean absolute error and mean signed error (bias); `missing` items had
    no estimate (no face) and are left out of both."""

    mae: Estimate
    bias: Estimate
    missing: int


def errors(estimate: Sequence[float], truth: Sequence[float], *, seed: int = SEED) -> Errors:
    """Mean abs error and bias of `estimate` against `truth` (NaN estimates counted as missing)."""
    e, t = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if e.shape != t.shape:
        raise ValueError(f"errors: {e.shape} estimates for {t.shape} labels")
    diff = e - t
    return Errors(bootstrap(np.abs(diff), seed=seed), bootstrap(diff, seed=seed), int(np.isnan(diff).sum()))


def confusion(tagged: Sequence[str], true: Sequence[str], labels: Sequence[str]) -> str:
    """Markdown table: rows = bin of the true value, columns = tag; labels outside `labels` (such
    as `unknown`) get their own column."""
    columns = list(labels) + sorted({str(x) for x in tagged} - set(labels))
    counts = {(t, g): 0 for t in labels for g in columns}
    for g, t in zip(tagged, true, strict=True):
        counts[(t, g)] += 1
    lines = [
        "| true \\ tagged | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    lines += [f"| {t} | " + " | ".join(str(counts[(t, g)]) for g in columns) + " |" for t in labels]
    return "\n".join(lines)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (first column left-aligned, the rest right-aligned)."""
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
