"""What a run records about itself: `run.json` (`RunMeta`, for resume) and `summary.json` (`RunSummary`).

Both are frozen values with `save`/`load`; a stage that learns something makes a new value
(`dataclasses.replace`) instead of mutating a shared dict. A file that is not valid JSON, or whose
fields have the wrong types, is an error naming the file and the field, never an empty value: a
summary read as `{}` would make every metric's direction unknown far from the cause.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_harness.atomic import write_atomic
from qa_harness.errors import QaHarnessError


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise QaHarnessError(f"{source}: not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise QaHarnessError(f"{source}: expected a JSON object, got {type(data).__name__}")
    return data


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, source: str) -> Any:
    value = data.get(key, default)
    if value is not default and not isinstance(value, kind):
        raise QaHarnessError(f"{source}: field {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise QaHarnessError(f"{path}: cannot read: {err.strerror or err}") from err


@dataclass(frozen=True)
class RunSummary:
    """`summary.json`: counts, failures, unavailable metrics, each metric's direction, and performance."""

    run_id: str
    suite: str = ""
    suite_version: str = ""
    model: str = ""
    #: `clips/total`, `clips/failed`, `frames/total` (logged to MLflow under these names).
    counts: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)  # pair id -> error
    #: pair id -> {metric: reason} for metrics that raised on a pair that itself finished (values NaN).
    metric_errors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    unavailable_metrics: Mapping[str, str] = field(default_factory=dict)  # metric -> why
    #: Metric column -> True when higher is better; None for a descriptive column.
    higher_is_better: Mapping[str, bool | None] = field(default_factory=dict)
    #: `frames_per_second`, `peak_rss_mb`, `peak_gpu_mb` (None off GPU).
    perf: Mapping[str, float | None] = field(default_factory=dict)
    #: `--retry-failed` attempts: {"at": unix time, "pairs": [pair ids evaluated again]}.
    retried: tuple[Mapping[str, Any], ...] = ()
    #: Pair id -> fraction of its output values outside [0, 1] (pairs with none left out; see guards.py).
    output_out_of_range: Mapping[str, float] = field(default_factory=dict)
    #: Frames each metric could not score, by reason (metric -> reason -> frames).
    unscored: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Run params the metrics report (e.g. `lpips_weights`: where LPIPS's backbone came from).
    metric_params: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "suite": self.suite,
                "suite_version": self.suite_version,
                "model": self.model,
                "counts": dict(self.counts),
                "failed": dict(self.failed),
                "metric_errors": {pair: dict(errors) for pair, errors in self.metric_errors.items()},
                "unavailable_metrics": dict(self.unavailable_metrics),
                "higher_is_better": dict(self.higher_is_better),
                "perf": dict(self.perf),
                "retried": list(self.retried),
                "output_out_of_range": dict(self.output_out_of_range),
                "unscored": {k: dict(v) for k, v in self.unscored.items()},
                "metric_params": dict(self.metric_params),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> RunSummary:
        """Parse; `source` names the file in errors. Fields an older harness did not write take defaults."""
        data = _parse(text, source)
        directions = _get(data, "higher_is_better", dict, {}, source)
        bad = {k: v for k, v in directions.items() if not (v is None or isinstance(v, bool))}
        if bad:
            raise QaHarnessError(f"{source}: 'higher_is_better' values must be true, false or null, got {bad}")
        return cls(
            run_id=_get(data, "run_id", str, "", source),
            suite=_get(data, "suite", str, "", source),
            suite_version=_get(data, "suite_version", str, "", source),
            model=_get(data, "model", str, "", source),
            counts=_get(data, "counts", dict, {}, source),
            failed=_get(data, "failed", dict, {}, source),
            metric_errors=_get(data, "metric_errors", dict, {}, source),
            unavailable_metrics=_get(data, "unavailable_metrics", dict, {}, source),
            higher_is_better=directions,
            perf=_get(data, "perf", dict, {}, source),
            retried=tuple(_get(data, "retried", list, [], source)),
            output_out_of_range=_get(data, "output_out_of_range", dict, {}, source),
            unscored=_get(data, "unscored", dict, {}, source),
            metric_params=_get(data, "metric_params", dict, {}, source),
        )

    def save(self, path: Path) -> None:
        write_atomic(Path(path), self.to_json().encode())

    @classmethod
    def load(cls, path: Path) -> RunSummary:
        return cls.from_json(_read(path), str(path))


@dataclass(frozen=True)
class RunMeta:
    """`run.json`: what was run (the fingerprint a resume must match), its MLflow run, and what the
    workers reported of the metrics (kept so a resumed run with nothing left to build still has it)."""

    fingerprint: Mapping[str, Any]
    mlflow_run_id: str | None = None
    metrics_info: Mapping[str, Any] | None = None  # executors.worker.MetricsInfo as a dict
    retried: tuple[Mapping[str, Any], ...] = ()  # --retry-failed attempts (see RunSummary.retried)

    def to_json(self) -> str:
        data: dict[str, Any] = {"fingerprint": dict(self.fingerprint), "mlflow_run_id": self.mlflow_run_id}
        if self.metrics_info is not None:
            data["metrics_info"] = dict(self.metrics_info)
        if self.retried:
            data["retried"] = list(self.retried)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str) -> RunMeta:
        data = _parse(text, source)
        if "fingerprint" not in data:
            raise QaHarnessError(f"{source}: no 'fingerprint' field: not a qa-harness run folder's run.json")
        return cls(
            fingerprint=_get(data, "fingerprint", dict, {}, source),
            mlflow_run_id=_get(data, "mlflow_run_id", (str, type(None)), None, source),
            metrics_info=_get(data, "metrics_info", (dict, type(None)), None, source),
            retried=tuple(_get(data, "retried", list, [], source)),
        )

    def save(self, path: Path) -> None:
        write_atomic(Path(path), self.to_json().encode())

    @classmethod
    def load(cls, path: Path) -> RunMeta:
        return cls.from_json(_read(path), str(path))
