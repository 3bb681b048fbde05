"""`qa-harness compare`: which differences between checkpoints are real.

The first run is the reference; every other run is compared with it per metric and per condition on
paired per-clip values: the mean per-clip delta with a paired bootstrap CI, and a Wilcoxon
signed-rank test. The p-values of the whole family (all runs x metrics x conditions) are
Holm-corrected, so testing many cells does not manufacture "significant" ones. A cell is `better` or
`worse` only when its corrected p-value is below alpha and its CI excludes zero; otherwise `no
detectable difference` (or `too few clips`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from qa_harness.gate.output import md_cell
from qa_harness.runs.records import RunRecords, check_same_suite
from qa_harness.runs.selectors import Selector, parse_selector
from qa_harness.runs.stats import clip_values, paired_bootstrap, paired_values

BETTER, WORSE, SAME, TOO_FEW = "better", "worse", "no detectable difference", "too few clips"


@dataclass(frozen=True, slots=True)
class CompareSettings:
    conditions: tuple[str, ...] = ("all", "each")
    metrics: tuple[str, ...] = ()  # empty: every metric the reference run has
    alpha: float = 0.05
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    min_clips: int = 5


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


def _wilcoxon(deltas: np.ndarray) -> float:
    if len(deltas) < 2 or np.all(deltas == 0):
        return 1.0
    return float(stats.wilcoxon(deltas, zero_method="wilcox", alternative="two-sided").pvalue)


def compare_runs(
    runs: Sequence[RunRecords], settings: CompareSettings = CompareSettings(), *, allow_suite_mismatch: bool = False
) -> pd.DataFrame:
    """One row per (run, metric, condition): means, delta, CI, p, Holm p and verdict vs runs[0]."""
    reference, others = runs[0], runs[1:]
    for run in others:
        check_same_suite(run, reference, allow_mismatch=allow_suite_mismatch)
    metrics = settings.metrics or tuple(reference.scored_metrics())
    specs = [parse_selector(text) for text in settings.conditions]
    selectors = list(dict.fromkeys(s for spec in specs for s in spec.expand(reference.frames)))
    reference_values: dict[tuple[str, Selector], pd.Series] = {}  # shared by every compared run
    rows = []
    for run in others:
        for metric in metrics:
            if not (run.has_metric(metric) and reference.has_metric(metric)):
                continue
            higher = reference.direction(metric)
            for selector in selectors:
                if (metric, selector) not in reference_values:
                    reference_values[metric, selector] = clip_values(reference, metric, selector)
                c, b, _ = paired_values(clip_values(run, metric, selector), reference_values[metric, selector])
                row = {
                    "run": run.run_id,
                    "run_name": run.name,
                    "reference": reference.run_id,
                    "metric": metric,
                    "condition": str(selector),
                    "higher_is_better": higher,
                    "clips": len(c),
                    "reference_mean": float(b.mean()) if len(c) else math.nan,
                    "run_mean": float(c.mean()) if len(c) else math.nan,
                    "delta": math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                    "p": math.nan,
                }
                if len(c) >= settings.min_clips:
                    ci = paired_bootstrap(
                        c, b, "mean", confidence=settings.confidence, resamples=settings.resamples, seed=settings.seed
                    )
                    row.update(delta=ci.point, ci_low=ci.low, ci_high=ci.high, p=_wilcoxon(c - b))
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = holm(table["p"].to_numpy())
    table["verdict"] = [_verdict(r, settings.alpha) for r in table.itertuples(index=False)]
    return table


def _verdict(row, alpha: float) -> str:
    if not np.isfinite(row.p):
        return TOO_FEW
    if row.p_holm >= alpha or row.ci_low <= 0 <= row.ci_high:
        return SAME
    improved = row.delta > 0 if row.higher_is_better else row.delta < 0
    return BETTER if improved else WORSE


def cost_points(runs: Sequence[RunRecords], metrics: Sequence[str], *, label_param: str | None) -> pd.DataFrame:
    """Per run: overall clip-mean of each metric and the perf metrics, for the Pareto view."""
    rows = []
    for run in runs:
        label = run.name + (f" [{label_param}={run.params.get(label_param, '?')}]" if label_param else "")
        row = {
            "run": run.run_id,
            "label": label,
            "perf/frames_per_second": run.metrics.get("perf/frames_per_second", math.nan),
            "perf/peak_rss_mb": run.metrics.get("perf/peak_rss_mb", math.nan),
        }
        for metric in metrics:
            values = clip_values(run, metric, Selector()) if run.has_metric(metric) else []
            row[metric] = float(np.mean(values)) if len(values) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def render_markdown(table: pd.DataFrame, names: dict[str, str]) -> str:
    """Markdown: per compared run, the cells that differ, then a full table of every cell."""
    if table.empty:
        return "## Comparison\n\nNo comparable cells.\n"
    lines = [
        "## Comparison",
        "",
        f"Reference run `{md_cell(names[table['reference'].iat[0]])}`. Paired per-clip "
        "deltas (run - reference), bootstrap CI, Wilcoxon signed-rank p Holm-corrected over all "
        f"{len(table)} cells.",
        "",
    ]
    for run, group in table.groupby("run", sort=False):
        differ = group[group["verdict"].isin([BETTER, WORSE])]
        lines.append(
            f"### `{md_cell(names[run])}`: {sum(differ['verdict'] == WORSE)} worse, "
            f"{sum(differ['verdict'] == BETTER)} better, {len(group) - len(differ)} other"
        )
        lines += [
            f"- **{v}**: {md_cell(m)} on `{md_cell(c)}` (delta {d:+.4g}, CI {lo:+.4g} .. {hi:+.4g}, p_holm {p:.2g})"
            for v, m, c, d, lo, hi, p in differ[
                ["verdict", "metric", "condition", "delta", "ci_low", "ci_high", "p_holm"]
            ].itertuples(index=False)
        ]
        lines.append("")
    cols = [
        "run_name",
        "metric",
        "condition",
        "clips",
        "reference_mean",
        "run_mean",
        "delta",
        "ci_low",
        "ci_high",
        "p",
        "p_holm",
        "verdict",
    ]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(md_cell(f"{v:.4g}" if isinstance(v, float) else v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def log_comparison(client, runs: Sequence[RunRecords], table: pd.DataFrame, files: dict[str, bytes]) -> str:
    """A run tagged `qa_harness.kind=comparison` in the reference's experiment, holding the outputs."""
    import tempfile
    from pathlib import Path

    experiment_id = client.get_run(runs[0].run_id).info.experiment_id
    run = client.create_run(experiment_id, run_name=f"compare/{runs[0].name}", tags={"qa_harness.kind": "comparison"})
    run_id = run.info.run_id
    client.log_param(run_id, "reference", runs[0].run_id)
    client.log_param(run_id, "runs", ",".join(r.run_id for r in runs[1:]))
    verdicts = table["verdict"].value_counts() if not table.empty else pd.Series(dtype=int)
    client.log_metric(run_id, "compare/worse_cells", float(verdicts.get(WORSE, 0)))
    client.log_metric(run_id, "compare/better_cells", float(verdicts.get(BETTER, 0)))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
            client.log_artifact(run_id, str(Path(tmp) / name), artifact_path="compare")
    client.set_terminated(run_id, "FINISHED")
    return run_id
