"""`RunRecords`: what the gate, compare and the report read of one evaluation run.

One value for every reader, however the run was found (an MLflow run, a run folder, a test's
simulated run): the per-frame table (`metric:<name>` and `cond:<axis>` columns), the per-pair table
(status, error, `clip_metric:<name>` columns), and what the run's summary recorded of each metric's
direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.records import CLIP_METRIC_PREFIX, METRIC_ERRORS, METRIC_PREFIX, metric_columns


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

    def failed_clips(self) -> list[str]:
        if self.clips is None or "status" not in self.clips:
            return []
        return sorted(self.clips.loc[self.clips["status"] != "ok", "pair_id"].astype(str))


def check_same_suite(candidate: RunRecords, baseline: RunRecords, *, allow_mismatch: bool) -> None:
    """Refuse to pair clips of runs on different suite versions (their clips may differ)."""
    if (candidate.suite, candidate.suite_version) != (baseline.suite, baseline.suite_version) and not allow_mismatch:
        raise QaHarnessError(
            f"runs are on different suites: candidate {candidate.run_id} has {candidate.suite}@"
            f"{candidate.suite_version}, baseline {baseline.run_id} has {baseline.suite}@"
            f"{baseline.suite_version}; re-evaluate both on one suite version, or pass "
            "--allow-suite-mismatch to pair clips by pair id anyway"
        )
