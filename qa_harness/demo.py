"""`qa-harness demo`: the baselines on the shipped demo suite, end to end, on embedded defaults.

`identity` (no motion: the floor) and `driving` (the ground truth itself: the ceiling) bracket every
real model; the table shows where each condition of the demo suite puts them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from qa_harness import tracking
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.summary import condition_table

DEMO_SUITE = Path(__file__).resolve().parents[1] / "suites" / "demo.yaml"
DEMO_MODELS = ("identity", "driving")


def run_demo(*, out: Path, tracking_uri: str | None = None) -> int:
    """Evaluate the demo models, print the per-condition table and how to open MLflow; exit code."""
    uri = tracking_uri or tracking.default_tracking_uri()
    tables, failed = {}, 0
    for model in DEMO_MODELS:
        print(f"== evaluating '{model}' on {DEMO_SUITE.name}", flush=True)
        result = run_evaluation(EvalConfig(
            suite=DEMO_SUITE, model=model, out_dir=out / model, overwrite=True, tracking_uri=uri,
            run_name=f"demo/{model}",
        ))
        tables[model] = pd.read_csv(result.out_dir / "aggregate.csv")
        failed += len(result.failed)
        print(f"   MLflow run {result.run_id}: {result.frames_per_second:.1f} frames/s", flush=True)
        for name, reason in result.unavailable_metrics.items():
            print(f"   metric {name} unavailable: {reason.splitlines()[0]}")
    print("\nMean per clip, by condition (clip count in brackets):")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(condition_table(tables).to_string())
    print(f"\nRun folders: {out}/<model>/  (frames.parquet, clips.parquet, aggregate.csv)")
    if uri.startswith("sqlite:///"):
        print(f"Open the runs in the MLflow UI:  mlflow ui --backend-store-uri {uri}")
    else:
        print(f"MLflow tracking URI: {uri}")
    if failed:
        print(f"{failed} pairs failed; see the summaries above.", file=sys.stderr)
        return 3
    return 0
