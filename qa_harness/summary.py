"""Human-readable summaries of finished runs, for the terminal (the CLI's output, not logging)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd

from qa_harness.aggregate import ALL
from qa_harness.records import RunResult


def condition_table(tables: dict[str, pd.DataFrame], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows: condition (axis=value); columns: model x metric mean (clip count in brackets)."""
    wide = []
    for label, table in tables.items():
        t = table if metrics is None else table[table["metric"].isin(metrics)]
        t = t.assign(condition=[ALL if a == ALL else f"{a}={v}" for a, v in zip(t["axis"], t["value"], strict=True)])
        cell = [f"{m:.4g} ({int(n)})" if pd.notna(m) else "-" for m, n in zip(t["mean"], t["clips"], strict=True)]
        t = t.assign(cell=cell, column=[f"{label}:{m}" if len(tables) > 1 else m for m in t["metric"]])
        wide.append(t.pivot(index="condition", columns="column", values="cell"))
    out = pd.concat(wide, axis=1).fillna("-")
    order = [ALL] + sorted(i for i in out.index if i != ALL)
    return out.loc[[i for i in order if i in out.index]]


def print_result(result: RunResult, *, file=sys.stdout) -> None:
    """Per-condition means, failures and where the run went."""
    table = pd.read_csv(result.out_dir / "aggregate.csv")
    ok = len(result.outcomes) - len(result.failed)
    print(f"run {result.run_id}: {ok}/{len(result.outcomes)} pairs ok, {result.frames_per_second:.1f} frames/s",
          file=file)
    if not table.empty:
        print(condition_table({"run": table}).to_string(), file=file)
    for outcome in result.failed:
        print(f"FAILED {outcome.pair_id}: {outcome.error}", file=file)
    for name, reason in result.unavailable_metrics.items():
        print(f"metric {name} unavailable: {reason}", file=file)
    print(f"records: {result.records_path}", file=file)
