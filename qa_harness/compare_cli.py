"""`qa-harness compare RUN RUN [RUN...]` command line; the statistics live in `qa_harness.compare`.

Kept apart so that building the CLI parser imports neither pandas nor scipy.
"""

from __future__ import annotations

import argparse


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare runs: which per-condition differences are real",
        description="Compare evaluation runs with the first one: per metric and condition, the paired mean "
        "per-clip delta with the gate's test (frames paired, segments within clips, the spread between clips), "
        "p-values corrected over all cells (Benjamini-Hochberg by default), and a quality-vs-cost Pareto plot.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run ids or models:/<name>@<alias>; the first is the reference (at least two)",
    )
    p.add_argument(
        "--metrics",
        help="comma-separated metrics (default: all in the reference run; "
        "the Pareto plot then shows the headline ones)",
    )
    p.add_argument("--conditions", default="all,each", help="comma-separated selectors (default all,each)")
    p.add_argument(
        "--alpha", type=float, default=0.05, help="error rate of the whole table, after --correction (default 0.05)"
    )
    p.add_argument(
        "--correction",
        choices=("holm", "bh"),  # runs.condition_stats.CORRECTIONS, not imported here (it pulls in scipy)
        default="bh",
        help="bh: false discovery rate (default; more cells called when many differ); holm: family-wise, as the gate",
    )
    p.add_argument("--label-param", help="run param shown on the Pareto plot, e.g. model_option.iterations")
    p.add_argument("--out", help="also write cells.csv, summary.md and pareto.png to this folder")
    p.add_argument("--allow-suite-mismatch", action="store_true")
    p.add_argument("--no-log", action="store_true", help="do not log the comparison to MLflow")
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///./qa_runs/mlflow.db)"
    )
    p.set_defaults(func=run_compare_command)


def run_compare_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qa_harness import plots
    from qa_harness.compare import (
        CompareSettings,
        compare_runs,
        cost_points,
        display_names,
        log_comparison,
        render_markdown,
    )
    from qa_harness.errors import QaHarnessError
    from qa_harness.runs import mlflow_io
    from qa_harness.summary import headline

    if len(args.runs) < 2:
        raise QaHarnessError("compare needs at least two runs (the first is the reference)")
    client = mlflow_io.client_for(args.tracking_uri)
    runs = [mlflow_io.load_run(client, ref) for ref in args.runs]
    settings = CompareSettings(
        conditions=tuple(c.strip() for c in args.conditions.split(",") if c.strip()),
        metrics=tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else (),
        alpha=args.alpha,
        correction=args.correction,
    )
    table = compare_runs(runs, settings, allow_suite_mismatch=args.allow_suite_mismatch)
    names = display_names(runs)
    markdown = render_markdown(table, names)
    metrics = settings.metrics or tuple(runs[0].scored_metrics())
    points = cost_points(runs, metrics, label_param=args.label_param)
    plotted = metrics if settings.metrics else headline(metrics)  # one plot row per metric
    files = {
        "cells.csv": table.to_csv(index=False).encode(),
        "summary.md": markdown.encode(),
        "pareto.png": plots.pareto_plot(points, {m: runs[0].direction(m) for m in plotted}),
    }
    shown = table[["run_name", "metric", "condition", "clips", "delta", "ci_low", "ci_high", "p_adjusted", "verdict"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}") if not table.empty else "no cells")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    if not args.no_log:
        print(f"comparison logged to MLflow run {log_comparison(client, runs, table, files)}")
    return 0
