"""`RunRecords`: what the gate, compare and the report read of one evaluation run.

One value for every reader, however the run was found (an MLflow run, a run folder, a test's
simulated run): the per-frame table (`metric:<name>` and `cond:<axis>` columns), the per-pair table
(status, error, `clip_metric:<name>` columns), and what the run's summary recorded of each metric's
direction. Tables serve the statistics (grouped, vectorised); `RunRecords.pair` gives one pair typed
(`PairView`: the writer's `PairRecords` columns, its status, clip-level values and per-metric status),
read from the same tables, so both views hold the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.records import (
    CLIP_METRIC_PREFIX,
    COND_PREFIX,
    METRIC_ERRORS,
    METRIC_PREFIX,
    PairRecords,
    condition_columns,
    metric_columns,
)
from qa_harness.runs.selectors import Selector, SelectorSpec, absent, condition_values

#: Where the per-pair table's `metric_errors` text ("m: reason; m2: reason", `store.gather`) starts a metric.
_NEXT_METRIC = re.compile(r"; (?=[\w.\-]+: )")
#: `PairView.metric_status` of a metric that scored the pair.
OK = "ok"


@dataclass(frozen=True)
class PairView:
    """One pair of a run, typed: its frame records as the writer made them (None when it has no frames, as a
    failed pair), how it went, its clip-level values and the metrics that raised on it (metric -> reason).

    `records.metrics` holds every metric column of the run (NaN where this pair was not scored);
    `records.conditions` the axes this pair has (a column of the run that is empty for it is left out).
    """

    pair_id: str
    status: str  # "ok" or "failed"
    error: str
    records: PairRecords | None
    clip_metrics: Mapping[str, float] = field(default_factory=dict)
    metric_errors: Mapping[str, str] = field(default_factory=dict)

    def metric_status(self, metric: str) -> str:
        """`OK`, the reason the metric raised on this pair (its values are NaN), or the pair's failure."""
        if self.status != "ok":
            return f"pair failed: {self.error}"
        return self.metric_errors.get(metric, OK)


def _labels(column: pd.Series) -> tuple[str | None, ...]:
    return tuple(None if pd.isna(v) else str(v) for v in column)


def parse_metric_errors(text: object) -> dict[str, str]:
    """metric -> reason from the per-pair table's `metric_errors` text (empty/NaN: none). A reason that itself
    holds "; <word>: " would be split there: the run's summary.json keeps the same reasons as a mapping."""
    if not isinstance(text, str) or not text:
        return {}
    return dict(part.split(": ", 1) for part in _NEXT_METRIC.split(text))


@dataclass(frozen=True)
class RunRecords:
    """The records of one evaluation run, with its identity, params and logged metrics."""

    run_id: str
    name: str
    suite: str
    suite_version: str
    frames: pd.DataFrame  # wide per-frame records (the `records.PairRecords.to_frame` layout)
    clips: pd.DataFrame | None = None  # one row per pair: pair_id, status, frames, seconds, error, clip_metric:*
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: Metric column -> True when higher is better, as recorded by `evaluate` (summary.json); None for a
    #: descriptive column (a value reported for context, not a quality score).
    higher_is_better: Mapping[str, bool | None] = field(default_factory=dict)

    def frame_metrics(self) -> list[str]:
        """Metrics with one value per frame, in record order."""
        return metric_columns(self.frames)

    def clip_metrics(self) -> list[str]:
        """Metrics with one value per clip (e.g. a trajectory correlation), in record order."""
        if self.clips is None:
            return []
        return [c[len(CLIP_METRIC_PREFIX) :] for c in self.clips.columns if c.startswith(CLIP_METRIC_PREFIX)]

    def is_clip_metric(self, metric: str) -> bool:
        return METRIC_PREFIX + metric not in self.frames.columns and metric in self.clip_metrics()

    def has_metric(self, metric: str) -> bool:
        return METRIC_PREFIX + metric in self.frames.columns or metric in self.clip_metrics()

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
        """The quality scores (descriptive columns left out): frame-level ones in record order, then clip-level
        ones. A clip-level metric counts only when the run records its direction (older runs did not)."""
        frame = [m for m in self.frame_metrics() if self.higher_is_better.get(m, False) is not None]
        clip = [m for m in self.clip_metrics() if self.higher_is_better.get(m) is not None]
        return frame + [m for m in clip if m not in frame]

    def metric_errors(self) -> dict[str, str]:
        """pair_id -> "metric: reason; ..." for finished clips on which some metric raised (its values NaN)."""
        if self.clips is None or METRIC_ERRORS not in self.clips:
            return {}
        errors = self.clips.set_index("pair_id")[METRIC_ERRORS]
        return {str(p): e for p, e in errors.items() if isinstance(e, str) and e}

    def output_out_of_range(self) -> dict[str, float]:
        """pair_id -> fraction of the model's output values outside [0, 1] (clamped before scoring), where any."""
        if self.clips is None or "output_out_of_range" not in self.clips:
            return {}
        fractions = self.clips.set_index("pair_id")["output_out_of_range"]
        return {str(p): float(f) for p, f in fractions.items() if f > 0}

    def expand(self, spec: SelectorSpec) -> list[Selector]:
        """The concrete selectors `spec` means on this run (`each`, `yaw=*`: the values its frames have)."""
        return spec.expand(self.frames)

    def absent(self, selector: Selector) -> str:
        """Why no frame of this run can match `selector` (an axis or value it does not have), or ""."""
        return absent(selector, self.frames)

    def pair_ids(self) -> list[str]:
        """Every pair of the run in record order (the per-pair table's, else the frame table's)."""
        table = self.clips if self.clips is not None and "pair_id" in self.clips else self.frames
        return [str(p) for p in dict.fromkeys(table["pair_id"])] if "pair_id" in table else []

    def pair(self, pair_id: str) -> PairView:
        """One pair typed (`PairView`); an unknown id raises, naming the run."""
        rows = self.frames[self.frames["pair_id"] == pair_id] if "pair_id" in self.frames else self.frames.iloc[:0]
        clip = self.clips[self.clips["pair_id"] == pair_id] if self.clips is not None else None
        if rows.empty and (clip is None or clip.empty):
            raise QaHarnessError(f"run {self.run_id} has no pair {pair_id!r}")
        records = None
        if not rows.empty:
            first = rows.iloc[0]
            records = PairRecords(
                run_id=str(first["run_id"]),
                suite=str(first.get("suite", self.suite)),
                suite_version=str(first.get("suite_version", self.suite_version)),
                pair_id=pair_id,
                protocol=str(first["protocol"]),
                frames=rows["frame"].to_numpy(dtype=np.int64),
                metrics={m: rows[METRIC_PREFIX + m].to_numpy(dtype=np.float64) for m in metric_columns(rows)},
                conditions={
                    a: values for a in condition_columns(rows) if any(values := _labels(rows[COND_PREFIX + a]))
                },
            )
        if clip is None or clip.empty:
            return PairView(pair_id, "ok", "", records)
        row = clip.iloc[0]
        return PairView(
            pair_id=pair_id,
            status=str(row.get("status", "ok")),
            error=row.get("error") if isinstance(row.get("error"), str) else "",
            records=records,
            clip_metrics={m: float(row[CLIP_METRIC_PREFIX + m]) for m in self.clip_metrics()},
            metric_errors=parse_metric_errors(row.get(METRIC_ERRORS)),
        )

    def pairs(self) -> Iterator[PairView]:
        """`pair` for every pair, in record order."""
        return (self.pair(p) for p in self.pair_ids())

    def failed_clips(self) -> list[str]:
        if self.clips is None or "status" not in self.clips:
            return []
        return sorted(self.clips.loc[self.clips["status"] != "ok", "pair_id"].astype(str))


def observed_conditions(*runs: RunRecords) -> dict[str, set[str]]:
    """Axis -> the condition values the frames of `runs` have (over all of them)."""
    return condition_values(*(run.frames for run in runs))


def check_same_suite(candidate: RunRecords, baseline: RunRecords, *, allow_mismatch: bool) -> None:
    """Refuse to pair clips of runs on different suite versions (their clips may differ)."""
    if (candidate.suite, candidate.suite_version) != (baseline.suite, baseline.suite_version) and not allow_mismatch:
        raise QaHarnessError(
            f"runs are on different suites: candidate {candidate.run_id} has {candidate.suite}@"
            f"{candidate.suite_version}, baseline {baseline.run_id} has {baseline.suite}@"
            f"{baseline.suite_version}; re-evaluate both on one suite version, or pass "
            "--allow-suite-mismatch to pair clips by pair id anyway"
        )
