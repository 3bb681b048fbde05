"""Which way is better for a metric column: resolved through the metric registry.

A column name is looked up as a registered metric (built on CPU, its `columns` read); a column that a
metric emits under another name (`ssim_eye` from `ssim`) is matched by its prefix. Metrics whose
build needs weight files that are absent fall back to the directions of the well-known names, so a
gate can still be evaluated on a machine without those weights.
"""

from __future__ import annotations

import difflib
from functools import cache

from qa_harness.errors import WeightsUnavailableError

#: Known directions, used when a metric cannot be built here (its weights are not on this machine).
KNOWN_HIGHER_IS_BETTER = {
    "l1": False,
    "lpips": False,
    "akd": False,
    "aed": False,
    "mkr": False,
    "ssim": True,
    "psnr": True,
}


class UnknownMetricError(LookupError):
    """A column whose direction cannot be resolved; the message lists close names."""


@cache
def _registry_columns(metric: str) -> dict[str, bool]:
    import torch

    from qa_harness.catalog import METRICS
    from qa_harness.metrics.base import MetricContext

    built = METRICS.get(metric)(MetricContext(device=torch.device("cpu")))
    return {c.name: c.higher_is_better for c in (*built.columns, *built.clip_columns)}


def higher_is_better(column: str) -> bool:
    """True when larger values of `column` are better (ssim, psnr); False for errors (l1, lpips)."""
    from qa_harness.catalog import METRICS

    candidates = [column] + [column[:i] for i in range(len(column) - 1, 0, -1) if column[i] in "_/."]
    for name in candidates:
        if name in METRICS:
            try:
                columns = _registry_columns(name)
            except WeightsUnavailableError:
                columns = {}
            if column in columns:
                return columns[column]
            if name in KNOWN_HIGHER_IS_BETTER:
                return KNOWN_HIGHER_IS_BETTER[name]
        elif name in KNOWN_HIGHER_IS_BETTER:
            return KNOWN_HIGHER_IS_BETTER[name]
    known = sorted(set(METRICS.names()) | set(KNOWN_HIGHER_IS_BETTER))
    close = difflib.get_close_matches(column, known, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownMetricError(
        f"unknown metric {column!r}: its direction (higher or lower is better) is not known.{hint} "
        f"Known: {', '.join(known)}; or give 'higher_is_better' in the rule"
    )
