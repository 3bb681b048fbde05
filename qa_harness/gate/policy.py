"""Gate policy files (`gates/*.yaml`): loaded and validated completely before any run is read.

A policy is a list of rules; each rule is metric x aggregate x condition selectors with an absolute
threshold and/or a limit on the regression against a baseline run. A relative check fails only when
the confidence interval of the regression, corrected over all relative checks of the gate, lies
wholly beyond the limit (`runs.condition_stats`), so noise between two runs of one model rarely fails
a gate (at most at the family-wise rate the file states). Every error names the file, the rule,
the key and its line. Which way is better for a metric comes from the candidate run (its metrics
record their directions); `higher_is_better` overrides it.

    version: 1
    statistics: {confidence: 0.95, correction: holm, resamples: 2000, seed: 0}
    min_clips: 5              # fewer: the mean borrows between-clip variance; other aggregates are not gated
    insufficient: skip        # a check the data cannot support: skip (listed NOT GATED) | fail
    max_failed_clips: 0       # candidate clips that failed to run
    rules:
      - name: ssim-mean
        metric: ssim
        aggregate: mean       # mean | median | p10 | p90
        conditions: [all, each, "yaw=extreme&occlusion!=none"]
        threshold: 0.5        # absolute: candidate must be at least (or at most, for errors) this
        max_regression: 0.01  # relative: candidate may be worse than baseline by at most this
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from qa_harness.errors import ConfigError
from qa_harness.runs.condition_stats import CORRECTIONS
from qa_harness.runs.selectors import SelectorSpec, SelectorSyntaxError, parse_selector
from qa_harness.yamlfile import KeyPath, YamlDoc, check_keys, load_yaml

AGGREGATES = ("mean", "median", "p10", "p90")
METHODS = ("percentile", "basic", "bca")
INSUFFICIENT = ("skip", "fail")
_TOP_KEYS = {"version", "name", "statistics", "min_clips", "insufficient", "max_failed_clips", "rules"}
_STAT_KEYS = {"method", "confidence", "resamples", "seed", "correction"}
_RULE_KEYS = {
    "name",
    "metric",
    "aggregate",
    "conditions",
    "threshold",
    "max_regression",
    "min_clips",
    "higher_is_better",
    "optional",
}


#: holm: family-wise, so no condition is blamed falsely (beyond the stated rate) even while others regress;
#: bh: false discovery rate, more power to name many regressed conditions, a false blame among them allowed.
DEFAULT_CORRECTION = "holm"


@dataclass(frozen=True, slots=True)
class Statistics:
    """How relative checks decide (see `runs.condition_stats`): `confidence` is family-wise (one-sided error
    (1 - confidence) / 2 over all relative checks of the gate, after `correction`); `resamples` and
    `seed` drive the clip bootstrap of the non-mean aggregates; `method` is the interval kind of
    `compare`'s bootstrap CIs."""

    method: str = "percentile"
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    correction: str = DEFAULT_CORRECTION


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    metric: str
    aggregate: str
    conditions: tuple[SelectorSpec, ...]
    threshold: float | None
    max_regression: float | None
    min_clips: int
    higher_is_better: bool | None  # None: the direction the candidate run recorded for the metric
    optional: bool  # a metric absent from the candidate's records skips instead of failing
    line: int


@dataclass(frozen=True, slots=True)
class Policy:
    path: Path
    name: str
    statistics: Statistics
    insufficient: str
    max_failed_clips: int
    rules: tuple[Rule, ...]


class _Reader:
    """Typed access to one mapping of the policy; errors name file:line, the key path and the rule."""

    def __init__(self, doc: YamlDoc, keypath: KeyPath, data: Any, rule: str | None = None) -> None:
        self.doc, self.keypath, self.rule = doc, keypath, rule
        if not isinstance(data, dict):
            self.fail(None, f"expected a mapping, got {type(data).__name__}")
        self.data = data

    def fail(self, key: str | None, problem: str) -> NoReturn:
        err = self.doc.error(self.keypath + ((key,) if key is not None else ()), problem)
        where = err.where + (f" (rule {self.rule!r})" if self.rule else "")
        raise ConfigError(err.path, where, err.problem)

    def check_keys(self, allowed: set[str]) -> None:
        """Unknown keys (with a suggestion) via `yamlfile.check_keys`, re-raised with the rule's name."""
        try:
            check_keys(self.doc, self.keypath, self.data, required=set(), optional=allowed)
        except ConfigError as err:
            if not self.rule:
                raise
            raise ConfigError(err.path, f"{err.where} (rule {self.rule!r})", err.problem) from None

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                self.fail(None, f"missing required key {key!r}")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(key, f"expected {names}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):  # a NaN limit would pass every check
            self.fail(key, f"must be a finite number, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def count(self, key: str, default: int, *, minimum: int) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            self.fail(key, f"must be >= {minimum}, got {value}")
        return value


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file; raises ConfigError (`file:line: rules[i].key (rule 'x'): problem`)."""
    doc = load_yaml(Path(path))
    if doc.data is None:
        raise ConfigError(doc.path, "", "policy file is empty")
    top = _Reader(doc, (), doc.data)
    top.check_keys(_TOP_KEYS)
    if top.get("version", int, required=True) != 1:
        top.fail("version", f"unsupported policy version {doc.data['version']!r}; this qa_harness reads version 1")
    stats = _Reader(doc, ("statistics",), top.get("statistics", dict, {}))
    stats.check_keys(_STAT_KEYS)
    confidence = stats.get("confidence", float, 0.95)
    if not 0.5 <= confidence < 1.0:
        stats.fail("confidence", f"must be in [0.5, 1), got {confidence}")
    statistics = Statistics(
        method=stats.choice("method", METHODS, "percentile"),
        confidence=confidence,
        resamples=stats.count("resamples", 2000, minimum=100),
        seed=stats.count("seed", 0, minimum=0),
        correction=stats.choice("correction", CORRECTIONS, DEFAULT_CORRECTION),
    )
    min_clips = top.count("min_clips", 5, minimum=2)
    rules_data = top.get("rules", list, required=True)
    if not rules_data:
        top.fail("rules", "a policy needs at least one rule")
    rules = tuple(_rule(doc, i, item, min_clips) for i, item in enumerate(rules_data))
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name in seen:
            _Reader(doc, ("rules", i), rules_data[i], rule.name).fail(
                "name", f"duplicate rule name (first used by rules[{seen[rule.name]}])"
            )
        seen[rule.name] = i
    return Policy(
        path=doc.path,
        name=top.get("name", str, doc.path.stem),
        statistics=statistics,
        insufficient=top.choice("insufficient", INSUFFICIENT, "skip"),
        max_failed_clips=top.count("max_failed_clips", 0, minimum=0),
        rules=rules,
    )


def _rule(doc: YamlDoc, index: int, data: Any, min_clips: int) -> Rule:
    name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else None
    r = _Reader(doc, ("rules", index), data, name)
    r.check_keys(_RULE_KEYS)
    metric = r.get("metric", str, required=True)
    conditions_raw = r.get("conditions", (list, str), ["all"])
    conditions_raw = [conditions_raw] if isinstance(conditions_raw, str) else conditions_raw
    if not conditions_raw:
        r.fail("conditions", "an empty list selects nothing; use [all]")
    specs = []
    for item in conditions_raw:
        try:
            specs.append(parse_selector(item))
        except SelectorSyntaxError as err:
            r.fail("conditions", str(err))
    threshold = r.get("threshold", float, None)
    max_regression = r.get("max_regression", float, None)
    if threshold is None and max_regression is None:
        r.fail(None, "a rule needs 'threshold' (absolute) and/or 'max_regression' (relative to the baseline)")
    if max_regression is not None and max_regression < 0:
        r.fail("max_regression", f"must be >= 0 (the regression allowed, in metric units), got {max_regression}")
    return Rule(
        name=r.get("name", str, f"{metric}-{r.get('aggregate', str, 'mean')}"),
        metric=metric,
        aggregate=r.choice("aggregate", AGGREGATES, "mean"),
        conditions=tuple(specs),
        threshold=threshold,
        max_regression=max_regression,
        min_clips=r.count("min_clips", min_clips, minimum=2),
        higher_is_better=r.get("higher_is_better", bool, None),
        optional=r.get("optional", bool, False),
        line=doc.lines.get(("rules", index), 0),
    )
