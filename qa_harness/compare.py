"""`qa-harness compare`: which differences between checkpoints are real.

The first run is the reference; every other run is compared with it per metric and per condition
with the gate's paired method (`runs.condition_stats`): frames paired by pair id and frame, the mean
per-clip delta (run - reference), its standard error from segments within clips and the spread
between clips (borrowed from the clips outside the condition, Simes-combined with its own spread
when it has `min_clips` clips), a
two-sided t-test. The p-values of the whole family (all runs x metrics x conditions) are corrected
(Benjamini-Hochberg by default: a comparison names every cell that differs, at a false discovery
rate; or Holm, family-wise as the gate), and each interval is reported at the level
the correction used, so a cell is `better` or `worse` exactly when its corrected p is below alpha
and its interval excludes zero; otherwise `no detectable difference` (or `too few clips` where no
test is possible, e.g. one clip in the whole run). Runs of one name get their run id in their name.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_harness.gate.output import md_cell
from qa_harness.runs.condition_stats import NotTestable, PairedDeltas, correct, holm
from qa_harness.runs.records import RunRecords, check_same_suite
from qa_harness.runs.selectors import Selector, parse_selector
from qa_harness.runs.stats import clip_values

BETTER, WORSE, SAME, TOO_FEW = "better", "worse", "no detectable difference", "too few clips"
__all__ = ["BETTER", "WORSE", "SAME", "TOO_FEW", "CompareSettings", "compare_runs", "display_names", "holm"]


@dataclass(frozen=True, slots=True)
class CompareSettings:
    conditions: tuple[str, ...] = ("all", "each")
    metrics: tuple[str, ...] = ()  # empty: every metric the reference run has
    alpha: float = 0.05
    #: over every cell of the call: bh (false discovery rate: a table where many cells differ keeps its power)
    #: | holm (family-wise, as the gate)
    correction: str = "bh"
    min_clips: int = 5  # fewer clips in a condition: the spread between clips is borrowed from the others


def display_names(runs: Sequence[RunRecords]) -> dict[str, str]:
    """run id -> name, with the run id's first 8 characters added to names that several runs share."""
    counts = Counter(r.name for r in runs)
    return {r.run_id: r.name if counts[r.name] == 1 else f"{r.name} ({r.run_id[:8]})" for r in runs}


def compare_runs(
    runs: Sequence[RunRecords], settings: CompareSettings = CompareSettings(), *, allow_suite_mismatch: bool = False
) -> pd.DataFrame:
    """One row per (run, metric, condition): means, delta, CI, p, corrected p and verdict vs runs[0]."""
    reference, others = runs[0], runs[1:]
    for run in others:
        check_same_suite(run, reference, allow_mismatch=allow_suite_mismatch)
    names = display_names(runs)
    metrics = settings.metrics or tuple(reference.scored_metrics())
    specs = [parse_selector(text) for text in settings.conditions]
    selectors = list(dict.fromkeys(s for spec in specs for s in reference.expand(spec)))
    rows, tests = [], []
    for run in others:
        for metric in metrics:
            if not (run.has_metric(metric) and reference.has_metric(metric)):
                continue
            deltas = PairedDeltas.of(run, reference, metric, higher_is_better=False)
            for selector in selectors:
                condition = deltas.condition(selector)
                try:
                    test = deltas.mean_test(condition, min_clips=settings.min_clips)
                except NotTestable:
                    test = None
                rows.append(
                    {
                        "run": run.run_id,
                        "run_name": names[run.run_id],
                        "reference": reference.run_id,
                        "metric": metric,
                        "condition": str(selector),
                        "higher_is_better": reference.direction(metric),
                        "clips": len(condition),
                        "reference_mean": float(clip_values(reference, metric, selector)[condition.mean.index].mean())
                        if len(condition)
                        else math.nan,
                        "run_mean": float(clip_values(run, metric, selector)[condition.mean.index].mean())
                        if len(condition)
                        else math.nan,
                        "delta": test.point if test else math.nan,
                    }
                )
                tests.append(test)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p"] = [t.p_two_sided() if t else math.nan for t in tests]
    family = correct(table["p"].to_numpy(), settings.alpha, settings.correction)
    bounds = [t.interval(lv / 2) if t else (math.nan, math.nan) for t, lv in zip(tests, family.levels, strict=True)]
    table["ci_low"], table["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    table["p_adjusted"] = family.adjusted
    table["verdict"] = [
        _verdict(r, rejected) for r, rejected in zip(table.itertuples(index=False), family.rejected, strict=True)
    ]
    return table


def _verdict(row, rejected: bool) -> str:
    if not np.isfinite(row.p):
        return TOO_FEW
    if not rejected:
        return SAME
    improved = row.delta > 0 if row.higher_is_better else row.delta < 0
    return BETTER if improved else WORSE


def cost_points(runs: Sequence[RunRecords], metrics: Sequence[str], *, label_param: str | None) -> pd.DataFrame:
    """Per run: overall clip-mean of each metric and the perf metrics, for the Pareto view."""
    rows, names = [], display_names(runs)
    for run in runs:
        label = names[run.run_id] + (f" [{label_param}={run.params.get(label_param, '?')}]" if label_param else "")
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
        "deltas (run - reference) with the gate's method (frames paired, segments within clips, "
        f"spread between clips), two-sided t-test, p corrected over all {len(table)} cells; "
        "intervals at the corrected level.",
        "",
    ]
    for run, group in table.groupby("run", sort=False):
        differ = group[group["verdict"].isin([BETTER, WORSE])]
        lines.append(
            f"### `{md_cell(names[run])}`: {sum(differ['verdict'] == WORSE)} worse, "
            f"{sum(differ['verdict'] == BETTER)} better, {len(group) - len(differ)} other"
        )
        lines += [
            f"- **{v}**: {md_cell(m)} on `{md_cell(c)}` (delta {d:+.4g}, CI {lo:+.4g} .. {hi:+.4g}, p_adj {p:.2g})"
            for v, m, c, d, lo, hi, p in differ[
                ["verdict", "metric", "condition", "delta", "ci_low", "ci_high", "p_adjusted"]
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
        "p_adjusted",
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
