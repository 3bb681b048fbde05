"""Evaluate a gate policy on a candidate run (and a baseline run): pure, on pandas tables.

Every rule x concrete condition gives one `Check`; all are evaluated and all failures reported at
once, each with its numbers (candidate, baseline, regression CI, limit, detectable effect,
direction). A relative check tests `regression <= max_regression` per condition with
`runs.condition_stats` (frames paired, clips as clusters, segments within clips; the between-clip variance
borrowed from the clips outside the condition), and the p-values of all relative
checks of the gate are corrected as one family (Holm by default), so testing a hundred conditions
does not manufacture failures; a check fails when its corrected interval lies beyond the limit. An
absolute check compares the candidate's aggregate with `threshold`. What is not gated is a check
with `not_gated` set to the reason, never silently absent.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from qa_harness.gate.policy import Policy, Rule
from qa_harness.runs.condition_stats import (
    ConditionTest,
    EitherTest,
    NotTestable,
    PairedDeltas,
    bootstrap_test,
    correct,
)
from qa_harness.runs.records import RunRecords, observed_conditions
from qa_harness.runs.selectors import Selector, SelectorSpec
from qa_harness.runs.stats import AGGREGATORS, clip_values, paired_values, worst_clips
from qa_harness.suites.vocabulary import check_policy, default_vocabulary, unseen_values

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
    p_value: float = math.nan  # one-sided p of `regression <= max_regression`, before the family correction
    p_adjusted: float = math.nan  # after it (policy statistics.correction, over every relative check)
    #: The regression this check catches with 80 % power at the family's first level (metric units).
    detectable: float = math.nan
    #: Why the check, or its relative part, was not gated ("" when it was): listed in every output.
    not_gated: str = ""

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

    @property
    def not_gated(self) -> tuple[Check, ...]:
        """Checks not gated, wholly (skipped) or in their relative part, each with its reason."""
        return tuple(c for c in self.checks if c.not_gated)


def evaluate_gate(
    policy: Policy,
    candidate: RunRecords,
    baseline: RunRecords | None = None,
    vocabulary: Mapping[str, tuple[str, ...] | None] | None = None,
) -> GateResult:
    """All checks of `policy` on `candidate` (relative ones against `baseline`; skipped without one).

    `vocabulary` (tag -> values, e.g. `Vocabulary.values`): a wildcard (`each`, `yaw=*`) also lists the
    values of each tag it expands that no clip of the candidate has (`yaw=extreme` on a suite without
    a strong turn) as NOT GATED (or failed, with `insufficient: fail`), instead of leaving them out."""
    checks = [_failed_clips_check(policy, candidate)]
    pending: list[_Pending] = []
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
        unchecked: dict[str, Check] = {}  # condition -> why it is not checked (the first reason found)
        for spec in rule.conditions:
            expanded = candidate.expand(spec)
            if not expanded:  # e.g. `lighting=*` on a suite without a lighting axis: say so, do not hide it
                message = f"no condition values for {spec.text!r} in the candidate's records"
                unchecked.setdefault(spec.text, _unchecked(rule, spec.text, "skip", message))
            for check in _unseen_values(policy, rule, spec, expanded, vocabulary or {}):
                unchecked.setdefault(check.condition, check)
            for selector in expanded:
                if absent := candidate.absent(selector):
                    unchecked.setdefault(str(selector), _unchecked(rule, str(selector), "skip", absent))
                elif selector not in selectors:
                    selectors.append(selector)
        checks += unchecked.values()
        deltas = (
            PairedDeltas.of(candidate, baseline, rule.metric, bool(rule.higher_is_better))
            if _relative(rule, baseline)
            else None
        )
        pending += [_check(policy, rule, selector, candidate, baseline, deltas) for selector in selectors]
    checks += _decide(policy, pending)
    return GateResult(policy.name, candidate.run_id, baseline.run_id if baseline else None, tuple(checks))


def evaluate_policy_file(
    path: Path, policy: Policy, candidate: RunRecords, baseline: RunRecords | None = None
) -> GateResult:
    """`evaluate_gate` as the CLI runs it: selectors naming a condition outside the vocabulary (the bins plus
    the runs' own tag values) are refused first (`ConfigError` at file:line), and wildcards list the
    vocabulary's values no clip has."""
    seen = observed_conditions(*(r for r in (candidate, baseline) if r is not None))
    vocabulary = default_vocabulary().extended(seen, "the runs' records")
    check_policy(path, policy.rules, vocabulary)
    return evaluate_gate(policy, candidate, baseline, vocabulary.values)


def _relative(rule: Rule, baseline: RunRecords | None) -> bool:
    return rule.max_regression is not None and baseline is not None and baseline.has_metric(rule.metric)


def _unseen_values(
    policy: Policy,
    rule: Rule,
    spec: SelectorSpec,
    expanded: list[Selector],
    vocabulary: Mapping[str, tuple[str, ...] | None],
) -> list[Check]:
    """A check per vocabulary value of the tags a wildcard expanded to that no clip has."""
    status: Status = "fail" if policy.insufficient == "fail" else "skip"
    return [
        _unchecked(rule, f"{tag}={value}", status, f"no clip has {tag}={value} (0 clips, needs {rule.min_clips})")
        for tag, value in unseen_values(spec, expanded, vocabulary)
    ]


def _unchecked(rule: Rule, condition: str, status: Status, message: str) -> Check:
    """A rule that could not be evaluated on `condition` (no metric, no such condition)."""
    return Check(
        rule.name,
        rule.metric,
        rule.aggregate,
        condition,
        status,
        message if status == "fail" else f"NOT GATED: {message}",
        threshold=rule.threshold,
        max_regression=rule.max_regression,
        higher_is_better=rule.higher_is_better,
        not_gated="" if status == "fail" else message,
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


@dataclass
class _Pending:
    """A check before the family correction: its test (None when not tested) and what is known so far."""

    check: Check
    test: ConditionTest | EitherTest | None
    problems: list[str]
    notes: list[str]
    cand: pd.Series
    base: pd.Series | None


def _check(
    policy: Policy,
    rule: Rule,
    selector: Selector,
    candidate: RunRecords,
    baseline: RunRecords | None,
    deltas: PairedDeltas | None,
) -> _Pending:
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
    problems: list[str] = []
    notes: list[str] = []
    not_gated = ""
    n_clips, base_value, test, base_clips = len(cand), math.nan, None, None
    short = False  # the data are too few for the relative test (`insufficient` decides)
    if rule.max_regression is not None and deltas is None:
        not_gated = (
            "relative limit: no baseline"
            if baseline is None
            else f"relative limit: metric {rule.metric!r} is not in the baseline's records"
        )
    elif rule.max_regression is not None:
        base_clips = clip_values(baseline, rule.metric, selector)
        base_value = float(agg(base_clips.to_numpy(float))) if len(base_clips) else math.nan
        try:
            test = _test(policy, rule, selector, cand, base_clips, deltas)
            n_clips = test.n_clips
        except NotTestable as err:
            not_gated, short = f"relative limit: {err}", True
            n_clips = len(paired_values(cand, base_clips)[0])
    if not len(cand) and not_gated == "":
        not_gated = "no frames of the candidate in this condition"
    if rule.threshold is not None and len(cand):
        worse = cand_value < rule.threshold if rule.higher_is_better else cand_value > rule.threshold
        bound = "at least" if rule.higher_is_better else "at most"
        (problems if worse or not np.isfinite(cand_value) else notes).append(
            f"{rule.aggregate} {rule.metric} {cand_value:.4g} must be {bound} {rule.threshold:.4g}"
        )
    gated = test is not None or (rule.threshold is not None and len(cand))
    status: Status = "fail" if problems else ("pass" if gated else "skip")
    if not gated and not_gated.startswith("relative limit: ") and rule.threshold is None:
        not_gated = not_gated.removeprefix("relative limit: ")
        if policy.insufficient == "fail" and short:
            status, problems = "fail", [f"insufficient data: {not_gated}"]
    check = Check(
        **base,
        status=status,
        message="",
        n_clips=n_clips,
        candidate=cand_value,
        baseline=base_value,
        not_gated=not_gated,
    )
    return _Pending(check, test, problems, notes, cand, base_clips)


def _test(
    policy: Policy, rule: Rule, selector: Selector, cand: pd.Series, base: pd.Series, deltas: PairedDeltas
) -> ConditionTest | EitherTest:
    """The condition's regression test: random effects for the mean, a clip bootstrap for the others."""
    if rule.aggregate == "mean":
        return deltas.mean_test(deltas.condition(selector), min_clips=rule.min_clips)
    c, b, _ = paired_values(cand, base)
    if len(c) < rule.min_clips:
        raise NotTestable(f"{len(c)} clip(s), {rule.aggregate} over clips needs min_clips={rule.min_clips}")
    sign = -1.0 if rule.higher_is_better else 1.0
    s = policy.statistics
    return bootstrap_test(
        sign * c,
        sign * b,
        _oriented(rule.aggregate, sign),
        resamples=s.resamples,
        seed=s.seed,
        n_frames=len(deltas.frames_in(selector)),
    )


def _oriented(aggregate: str, sign: float):
    """The aggregate of the original values, on values multiplied by `sign` (p10 of -x is -p90 of x)."""
    agg = AGGREGATORS[aggregate]
    return lambda x, axis=-1: sign * agg(sign * x, axis=axis)


def _decide(policy: Policy, pending: list[_Pending]) -> list[Check]:
    """Correct the family of relative tests, then finish every check: status, message, numbers."""
    s = policy.statistics
    alpha = (1.0 - s.confidence) / 2  # one-sided: a single check fails when its two-sided CI lies beyond the limit
    tested = [p for p in pending if p.test is not None]
    p_values = [p.test.p_value(p.check.max_regression) for p in tested]
    family = correct(p_values, alpha, s.correction)
    first_level = alpha / max(1, len(tested))  # the most stringent level, at which a lone regression is judged
    out = {id(p): p.check for p in pending}
    for i, p in enumerate(tested):
        t, limit = p.test, p.check.max_regression
        low, high = t.interval(family.levels[i])
        text = (
            f"regression {t.point:+.4g} (CI {low:+.4g} .. {high:+.4g}), limit {limit:.4g}, "
            f"{s.correction} p {family.adjusted[i]:.2g} of {len(tested)}; {t.variance}"
        )
        (p.problems if family.rejected[i] else p.notes).append(text)
        out[id(p)] = dataclasses.replace(
            p.check,
            regression=t.point,
            regression_low=low,
            regression_high=high,
            p_value=p_values[i],
            p_adjusted=float(family.adjusted[i]),
            detectable=t.detectable(limit, first_level),
        )
    checks = []
    for p in pending:
        check = out[id(p)]
        status: Status = "fail" if p.problems else check.status
        texts = p.problems or p.notes
        message = "; ".join(texts + ([f"NOT GATED: {check.not_gated}"] if check.not_gated else []))
        worst = _worst_clips(p.cand, p.base, check) if status == "fail" and len(p.cand) else ()
        checks.append(dataclasses.replace(check, status=status, message=message, worst_clips=worst))
    return checks


def _worst_clips(cand: pd.Series, base: pd.Series | None, check: Check, k: int = 3) -> tuple[str, ...]:
    """`pair_id (value)` of the `k` clips that weigh most (`runs.stats.worst_clips`), of those beyond the
    check's limit when its relative part failed (a clip of the condition that did not regress is not named)."""
    beyond = check.max_regression if base is not None else None
    ranking = worst_clips(cand, base, bool(check.higher_is_better), k, beyond=beyond)
    return tuple(f"{p} ({cand[p]:.4g})" for p in ranking.ranked)
