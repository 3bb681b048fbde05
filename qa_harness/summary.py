"""Human-readable summaries of finished runs, for the terminal (the CLI's output, not logging)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd

from qa_harness.guards import RANGE_TOLERANCE
from qa_harness.records import ClipOutcome, RunResult
from qa_harness.runs.table import ALL, condition_label

#: The columns terminal tables show when a run has more (all are in aggregate.csv, MLflow and the report).
HEADLINE_METRICS = ("ssim", "psnr", "l1", "lpips", "akd", "aed", "eye_ssim", "mouth_ssim")


def headline(metrics: Sequence[str]) -> list[str]:
    """The headline metrics among `metrics`, in headline order; all of them when none is a headline one."""
    return [m for m in HEADLINE_METRICS if m in metrics] or list(metrics)


def condition_table(tables: dict[str, pd.DataFrame], metrics: Sequence[str]) -> pd.DataFrame:
    """Rows: condition (axis=value), then run label when there are several; columns: those of `metrics`
    the runs have, in that order; cells: the mean per clip with the clip count in brackets."""
    present = [m for m in metrics if any((t["metric"] == m).any() for t in tables.values())]
    rows = []
    for label, table in tables.items():
        t = table[table["metric"].isin(present)]
        for (axis, value), group in t.groupby(["axis", "value"], sort=False, dropna=False):
            row = {"condition": condition_label(axis, value), "run": label}
            for m, n, metric in zip(group["mean"], group["clips"], group["metric"], strict=True):
                row[metric] = f"{m:.4g} ({int(n)})" if pd.notna(m) else "-"
            rows.append(row)
    out = pd.DataFrame(rows, columns=["condition", "run", *present]).fillna("-")
    order = {c: i for i, c in enumerate([ALL, *sorted(set(out["condition"]) - {ALL})])}
    out = out.sort_values("condition", key=lambda c: c.map(order), kind="stable")
    return out.set_index(["condition", "run"]) if len(tables) > 1 else out.drop(columns="run").set_index("condition")


def unscored_totals(outcomes: tuple[ClipOutcome, ...]) -> dict[str, dict[str, int]]:
    """Frames each metric could not score over the run, by reason (the pairs' `unscored` summed)."""
    totals: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        for metric, reasons in outcome.unscored.items():
            for reason, frames in reasons.items():
                totals.setdefault(metric, {}).setdefault(reason, 0)
                totals[metric][reason] += frames
    return totals


def print_result(result: RunResult, *, file=None) -> None:
    """Per-condition means, failures and where the run went; to `file`, else the current `sys.stdout` (looked up
    per call: a default bound at import would miss a later redirection, as pytest's capsys found)."""
    file = file or sys.stdout
    table = result.table.frame()
    ok = len(result.outcomes) - len(result.failed)
    print(
        f"run {result.run_id}: {ok}/{len(result.outcomes)} pairs ok, {result.frames_per_second:.1f} frames/s", file=file
    )
    if not table.empty:
        metrics = list(dict.fromkeys(table["metric"]))
        shown = headline(metrics)
        print(condition_table({"run": table}, shown).to_string(), file=file)
        if len(shown) < len(metrics):
            print(f"(+{len(metrics) - len(shown)} more metrics in {result.out_dir / 'aggregate.csv'})", file=file)
    for outcome in result.failed:
        print(f"FAILED {outcome.pair_id}: {outcome.error}", file=file)
    failed = {o.pair_id for o in result.failed}
    for pair_id, fraction in result.summary.output_out_of_range.items():
        verdict = "pair failed" if pair_id in failed else f"clamped before scoring (tolerance {RANGE_TOLERANCE:.0%})"
        print(f"output out of range on {pair_id}: {fraction:.2%} of its values outside [0, 1]; {verdict}", file=file)
    for pair_id, errors in result.summary.metric_errors.items():
        for metric, reason in errors.items():
            print(f"metric {metric} failed on {pair_id} (its values are NaN; the pair is kept): {reason}", file=file)
    for metric, reasons in unscored_totals(result.outcomes).items():
        for reason, frames in reasons.items():
            print(f"metric {metric}: {frames} frames not scored: {reason}", file=file)
    for name, reason in result.unavailable_metrics.items():
        print(f"metric {name} unavailable: {reason}", file=file)
    print(f"records: {result.records_path}", file=file)
