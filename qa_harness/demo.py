"""`qa-harness demo`: evaluation, release gate and report on the shipped demo suite, embedded defaults.

`identity` (no motion: the floor) and `driving` (the ground truth itself: the ceiling) bracket every
real model, with the classical `landmark_tps` warp in between; the table shows where each condition
of the demo suite puts them. Then the default gate policy judges `identity` as a release candidate
against `driving` as the baseline - it must fail, since a model that does not move is the regression
the gate exists to catch - and the HTML report shows where: which conditions, clips and frames.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

from qa_harness import tracking
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.packaged import DEFAULT_GATE, DEMO_SUITE
from qa_harness.suites.manifest import load_suite
from qa_harness.summary import condition_table, headline

DEMO_POLICY = DEFAULT_GATE
DEMO_MODELS = ("identity", "landmark_tps", "driving")


def _smoke_suite(out: Path, max_frames: int) -> Path:
    """A copy of the demo manifest capped at `max_frames` driving frames per pair, reading the shipped media.

    A manifest of its own (not the shipped suite with a field replaced), so its version says what ran.
    """
    raw = yaml.safe_load(DEMO_SUITE.read_text())
    raw["max_frames"] = max_frames
    raw["data_root"] = str((DEMO_SUITE.parent / raw["data_root"]).resolve())
    path = out / f"demo_{max_frames}_frames.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_demo(*, out: Path, tracking_uri: str | None = None, max_frames: int | None = None) -> int:
    """Evaluate the demo models, print the per-condition table and how to open MLflow; exit code.

    `max_frames` caps the driving frames per pair (a smoke run of every step; the shipped suite has 40).
    """
    uri = tracking_uri or tracking.default_tracking_uri()
    tables, runs, failed, unavailable = {}, {}, 0, set()
    suite_path = DEMO_SUITE if max_frames is None else _smoke_suite(out, max_frames)
    suite = load_suite(suite_path)
    for model in DEMO_MODELS:
        print(f"== evaluating '{model}' on {suite_path.name}", flush=True)
        result = run_evaluation(
            EvalConfig(
                suite=suite_path,
                model=model,
                out_dir=out / model,
                overwrite=True,
                tracking_uri=uri,
                run_name=f"demo/{model}",
            ),
            suite=suite,
        )
        tables[model] = result.table.frame()
        runs[model] = result.run_id
        failed += len(result.failed)
        print(f"   MLflow run {result.run_id}: {result.frames_per_second:.1f} frames/s", flush=True)
        unavailable |= set(result.unavailable_metrics)
    metrics = headline(list(dict.fromkeys(m for t in tables.values() for m in t["metric"])))
    print("\nMean per clip, by condition (clip count in brackets); all metrics are in MLflow and the report:")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(condition_table(tables, metrics).to_string())
    if unavailable:
        print(
            f"Not scored here: {', '.join(sorted(unavailable))} (a weight file is absent; the warning above "
            "says which file to put where)"
        )
    print(f"\nRun folders: {out}/<model>/  (frames.parquet, clips.parquet, aggregate.csv)")
    _gate_and_report(runs, out=out, uri=uri)
    if uri.startswith("sqlite:///"):
        print(f"Open the runs in the MLflow UI:  mlflow ui --backend-store-uri {uri}")
    else:
        print(f"MLflow tracking URI: {uri}")
    if failed:
        print(f"{failed} pairs failed; see the summaries above.", file=sys.stderr)
        return 3
    return 0


def _gate_and_report(runs: dict[str, str], *, out: Path, uri: str) -> None:
    """Gate `identity` against `driving` with the default policy, then write the HTML report."""
    from qa_harness.cli import main as cli

    print(f"\n== release gate: candidate 'identity' vs baseline 'driving', policy {DEMO_POLICY.name}", flush=True)
    verdict = cli(
        [
            "gate",
            "--candidate",
            runs["identity"],
            "--baseline",
            runs["driving"],
            "--policy",
            str(DEMO_POLICY),
            "--tracking-uri",
            uri,
            "--junit",
            str(out / "gate.xml"),
            "--markdown",
            str(out / "gate.md"),
        ]
    )
    outcome = {0: "PASS", 1: "FAIL"}.get(verdict, "ERROR")
    print(
        f"   gate verdict: {outcome} (expected FAIL: a model that does not move is a regression); "
        f"JUnit {out / 'gate.xml'}, Markdown {out / 'gate.md'}",
        flush=True,
    )
    report = out / "report.html"
    cli(["report", runs["identity"], "--baseline", runs["driving"], "--out", str(report), "--tracking-uri", uri])
    print(f"   report: {report.resolve()}  (open it in a browser; also logged to the MLflow run)")
