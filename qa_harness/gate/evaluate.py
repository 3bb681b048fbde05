"""Evaluate a gate policy on a candidate run (and a baseline run): pure, on pandas tables.

Every rule x concrete condition gives one `Check`; all are evaluated and all failures reported at
once, each with its numbers (candidate, baseline, regression CI, limit, direction). A relative check
fails only when the lower end of the paired bootstrap CI of the regression exceeds `max_regression`;
an absolute check compares the candidate's aggregate with `threshold`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from qa_harness.gate.policy import Policy, Rule
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import Selector
from qa_harness.runs.stats import AGGREGATORS, Interval, clip_values, paired_bootstrap, paired_values, worst_clips

Status = Literal["pass", "fail", "skip"]
FAILED_CLIPS_RULE = "failed-clips"


@dataclass(frozen=True, slots=True)
class Check:
    """One rule on one condition; `regression_*` are in metric units, positive = candidate worse."""

    rule: str
    metric: str
    aggregate: str
    condition: str
    status: Status
    message: str
    n_clips: int = 0
    candidate: float = math.nan
    baseline: float = math.nan
    threshold: float | None = None
    max_regression: float | None = None
    regression: float = math.nan
    regression_low: float = math.nan
    regression_high: float = math.nan
    higher_is_better: bool | None = None  # None: not known (the metric is not in the run)
    #: A failing check's clips that weigh most: `pair_id (value)`, largest regression first.
    worst_clips: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.rule}[{self.condition}]"


@dataclass(frozen=True, slots=True)
class GateResult:
    policy: str
    candidate: str
    baseline: str | None
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def decided(self) -> bool:
        """False when every rule's check was skipped: nothing was checked, so a pass would mean nothing."""
        return any(c.status != "skip" for c in self.checks if c.rule != FAILED_CLIPS_RULE)


def evaluate_gate(policy: Policy, candidate: RunRecords, baseline: RunRecords | None = None) -> GateResult:
    """All checks of `policy` on `candidate` (relative ones against `baseline`; skipped without one)."""
    checks = [_failed_clips_check(policy, candidate)]
    for rule in policy.rules:
        if not candidate.has_metric(rule.metric):
            conditions = ",".join(spec.text for spec in rule.conditions)
            close = difflib.get_close_matches(rule.metric, candidate.frame_metrics() + candidate.clip_metrics(), n=3)
            hint = f" (did you mean: {', '.join(close)}?)" if close else ""
            message = f"metric {rule.metric!r} is not in the candidate's records{hint}"
            checks.append(_unchecked(rule, conditions, "skip" if rule.optional else "fail", message))
            continue
        if rule.higher_is_better is None:
            rule = dataclasses.replace(rule, higher_is_better=candidate.direction(rule.metric))
        selectors: list[Selector] = []
        for spec in rule.conditions:
            expanded = spec.expand(candidate.frames)
            if not expanded:  # e.g. `lighting=*` on a suite without a lighting axis: say so, do not hide it
                message = f"no condition values for {spec.text!r} in the candidate's records"
                checks.append(_unchecked(rule, spec.text, "skip", message))
            selectors += [s for s in expanded if s not in selectors]
        for selector in selectors:
            checks.append(_check(policy, rule, selector, candidate, baseline))
    return GateResult(policy.name, candidate.run_id, baseline.run_id if baseline else None, tuple(checks))


def _unchecked(rule: Rule, condition: str, status: Status, message: str) -> Check:
    """A rule that could not be evaluated on `condition` (no metric, no such condition)."""
    return Check(
        rule.name,
        rule.metric,
        rule.aggregate,
        condition,
        status,
        message,
        threshold=rule.threshold,
        max_regression=rule.max_regression,
        higher_is_better=rule.higher_is_better,
    )


def _failed_clips_check(policy: Policy, candidate: RunRecords) -> Check:
    failed = candidate.failed_clips()
    status: Status = "fail" if len(failed) > policy.max_failed_clips else "pass"
    listed = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
    message = f"{len(failed)} clip(s) failed (allowed {policy.max_failed_clips})" + (f": {listed}" if failed else "")
    return Check(
        FAILED_CLIPS_RULE,
        "",
        "count",
        "all",
        status,
        message,
        n_clips=len(failed),
        candidate=float(len(failed)),
        threshold=float(policy.max_failed_clips),
        higher_is_better=False,
    )


def _check(policy: Policy, rule: Rule, selector: Selector, candidate: RunRecords, baseline: RunRecords | None) -> Check:
    base = dict(
        rule=rule.name,
        metric=rule.metric,
        aggregate=rule.aggregate,
        condition=str(selector),
        threshold=rule.threshold,
        max_regression=rule.max_regression,
        higher_is_better=rule.higher_is_better,
    )
    cand = clip_values(candidate, rule.metric, selector)
    agg = AGGREGATORS[rule.aggregate]
    cand_value = float(agg(cand.to_numpy(float))) if len(cand) else math.nan
    relative = rule.max_regression is not None
    problems: list[str] = []
    notes: list[str] = []
    n_clips = len(cand)
    base_value, interval, base_clips = math.nan, None, None
    if relative and baseline is not None and baseline.has_metric(rule.metric):
        base_clips = clip_values(baseline, rule.metric, selector)
        base_value = float(agg(base_clips.to_numpy(float))) if len(base_clips) else math.nan
        c, b, _ = paired_values(cand, base_clips)
        n_clips = len(c)
        if n_clips >= rule.min_clips:
            s = policy.statistics
            interval = paired_bootstrap(
                c,
                b,
                rule.aggregate,
                method=s.method,
                confidence=s.confidence,
                resamples=s.resamples,
                seed=s.seed,
            )
    elif relative:
        notes.append(
            "relative limit not checked: no baseline"
            if baseline is None
            else f"relative limit not checked: metric {rule.metric!r} is not in the baseline's records"
        )
    if n_clips < rule.min_clips:
        return Check(
            **base,
            status="fail" if policy.insufficient == "fail" else "skip",
            n_clips=n_clips,
            candidate=cand_value,
            baseline=base_value,
            message=f"{n_clips} clip(s) in this condition, fewer than min_clips={rule.min_clips}",
        )
    if rule.threshold is not None:
        worse = cand_value < rule.threshold if rule.higher_is_better else cand_value > rule.threshold
        bound = "at least" if rule.higher_is_better else "at most"
        (problems if worse or not np.isfinite(cand_value) else notes).append(
            f"{rule.aggregate} {rule.metric} {cand_value:.4g} must be {bound} {rule.threshold:.4g}"
        )
    regression = _as_regression(interval, rule.higher_is_better) if interval else None
    if regression is not None:
        text = (
            f"regression {regression.point:+.4g} (CI {regression.low:+.4g} .. {regression.high:+.4g}), "
            f"limit {rule.max_regression:.4g}"
        )
        (problems if regression.low > rule.max_regression else notes).append(text)
    status = "fail" if problems else ("pass" if rule.threshold is not None or regression is not None else "skip")
    return Check(
        **base,
        status=status,
        worst_clips=_worst_clips(cand, base_clips, rule.higher_is_better) if problems else (),
        message="; ".join(problems or notes),
        n_clips=n_clips,
        candidate=cand_value,
        baseline=base_value,
        regression=regression.point if regression else math.nan,
        regression_low=regression.low if regression else math.nan,
        regression_high=regression.high if regression else math.nan,
    )


def _worst_clips(cand: pd.Series, base: pd.Series | None, higher_is_better: bool, k: int = 3) -> tuple[str, ...]:
    """`pair_id (value)` of the `k` clips that weigh most (`runs.stats.worst_clips`)."""
    return tuple(f"{pair_id} ({cand[pair_id]:.4g})" for pair_id in worst_clips(cand, base, higher_is_better, k).ranked)


def _as_regression(delta: Interval, higher_is_better: bool) -> Interval:
    """Candidate-minus-baseline interval -> regression interval (positive = worse)."""
    if not higher_is_better:
        return delta
    return Interval(-delta.point, -delta.high, -delta.low)
