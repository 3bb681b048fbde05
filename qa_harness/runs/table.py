"""The condition table: per metric and per condition (`all`, then every `axis=value`), statistics over clips.

Each row takes the clips' values under one selector by the rule of `runs.stats` (frame-level metrics:
a clip's frames under that condition; clip-level ones: clips whose own condition it is), then mean,
median, p10, p90, the clip and frame counts, and a seeded bootstrap 95 % CI of the mean. `evaluate`
builds it once and carries it in the `RunResult`; `aggregate.csv` is its file form for people and
MLflow, not something the harness reads back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from qa_harness.records import CLIP_METRIC_PREFIX, METRIC_PREFIX, condition_columns
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import Selector, SelectorSpec
from qa_harness.runs.stats import EVERY_FRAME, bootstrap, clip_level_table, clip_means

ALL = "all"


def condition_label(axis: str, value: str) -> str:
    """How a row is named: `all`, or `axis=value` (as a gate selector prints it)."""
    return ALL if axis == ALL else f"{axis}={value}"


@dataclass(frozen=True, slots=True)
class ConditionRow:
    """Statistics of one metric over the clips of one condition (NaN statistics when there are none)."""

    metric: str
    axis: str
    value: str
    clips: int
    frames: int
    mean: float
    median: float
    p10: float
    p90: float
    ci_low: float
    ci_high: float

    @property
    def condition(self) -> str:
        return condition_label(self.axis, self.value)


COLUMNS = tuple(f.name for f in fields(ConditionRow))
STAT_COLUMNS = COLUMNS[3:]


@dataclass(frozen=True)
class ConditionTable:
    """The rows in a fixed order: frame-level metrics (`all`, then each axis=value), then clip-level ones."""

    rows: tuple[ConditionRow, ...]

    def __iter__(self) -> Iterator[ConditionRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def metrics(self) -> list[str]:
        return list(dict.fromkeys(r.metric for r in self.rows))

    def overall(self) -> dict[str, float]:
        """Metric -> mean over all clips."""
        return {r.metric: r.mean for r in self.rows if r.axis == ALL}

    def frame(self) -> pd.DataFrame:
        """One row per `ConditionRow` (columns `COLUMNS`), for tables and pivots."""
        return pd.DataFrame([astuple(r) for r in self.rows], columns=list(COLUMNS)).astype(
            {"clips": "int64", "frames": "int64"}
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(self.frame().to_csv(index=False))


def _row(metric: str, axis: str, value: str, values: np.ndarray, frames: int, seed: int | None) -> ConditionRow:
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return ConditionRow(metric, axis, value, 0, frames, *(math.nan,) * 6)
    ci = bootstrap(v, "mean", seed=seed) if seed is not None else None
    return ConditionRow(
        metric,
        axis,
        value,
        len(v),
        frames,
        float(v.mean()),
        float(np.median(v)),
        float(np.quantile(v, 0.1)),
        float(np.quantile(v, 0.9)),
        ci.low if ci else math.nan,
        ci.high if ci else math.nan,
    )


def _named(selector: Selector) -> tuple[str, str]:
    if not selector.terms:
        return ALL, ALL
    term = selector.terms[0]
    return term.axis, term.value


def _each(table: pd.DataFrame) -> list[Selector]:
    """`axis=value` for every value of every axis of `table`, axes in column order, values sorted."""
    return [s for axis in condition_columns(table) for s in SelectorSpec(f"{axis}=*", None, axis).expand(table)]


def condition_table(run: RunRecords, *, seed: int | None = 0) -> ConditionTable:
    """The table of one run; `seed` seeds the bootstrap CIs, None skips them (a reader that needs the rest)."""
    if run.frames.empty:
        return ConditionTable(())
    rows = []
    metrics = run.frame_metrics()
    for selector in [EVERY_FRAME, *_each(run.frames)]:
        means = clip_means(run.frames, selector)
        for m in metrics:
            col = means[METRIC_PREFIX + m]
            frames = int(means.loc[col.notna(), "frames"].sum())
            rows.append(_row(m, *_named(selector), col.to_numpy(float), frames, seed))
    clip_level = clip_level_table(run)
    for m in run.clip_metrics() if not clip_level.empty else ():
        col = CLIP_METRIC_PREFIX + m
        for selector in [EVERY_FRAME, *_each(clip_level)]:
            chosen = clip_level.loc[selector.mask(clip_level)]
            frames = int(chosen.loc[chosen[col].notna(), "frames"].sum())
            rows.append(_row(m, *_named(selector), chosen[col].to_numpy(float), frames, seed))
    return ConditionTable(tuple(rows))
