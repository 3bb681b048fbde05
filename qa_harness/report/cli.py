"""`qa-harness report RUN [--baseline RUN]`: write the HTML report and log it to the run in MLflow."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="self-contained HTML report of a run: where (condition, clip, frame) it fails",
        description="Write one self-contained HTML file (images embedded, nothing fetched) with the gate "
        "verdict, a metric x condition heat map, per-condition tables, the worst clips of each failing "
        "condition with frame strips (and eye/mouth crops where a face-region metric ran), per-frame curves "
        "and distributions; log it to the run.",
    )
    p.add_argument("run", metavar="RUN", help="MLflow run id or models:/<name>@<alias>")
    p.add_argument("--baseline", help="baseline run id or models:/<name>@<alias>")
    p.add_argument(
        "--policy",
        type=Path,
        help="gate policy to evaluate (default: the verdict the run logged with `qa-harness gate`, if any)",
    )
    p.add_argument("--out", type=Path, help="HTML file to write (default report-<run id>.html)")
    p.add_argument("--worst", type=int, default=3, help="worst clips shown per failing condition (default 3)")
    p.add_argument("--allow-suite-mismatch", action="store_true")
    p.add_argument("--no-log", action="store_true", help="do not log the report to the run")
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///./qa_runs/mlflow.db)"
    )
    p.set_defaults(func=run_report_command)


def _logged_gate(client, run_id: str):
    """The verdict `qa-harness gate` logged to this run (gate/result.json), or None."""
    import tempfile

    from qa_harness.gate.output import result_from_json

    if not any(a.path == "gate/result.json" for a in client.list_artifacts(run_id, "gate")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return result_from_json(Path(client.download_artifacts(run_id, "gate/result.json", tmp)).read_text())


def _mlflow_thumbs(client, run_id: str, folder: Path):
    """A ThumbSource that downloads one pair's thumbnails when the report asks for them; None when the
    run logged none."""
    from qa_harness.thumbs import THUMBS_ARTIFACT, thumb_dir

    if not client.list_artifacts(run_id, THUMBS_ARTIFACT):
        return None

    def pair_dir(pair_id: str) -> Path | None:
        path = f"{THUMBS_ARTIFACT}/{thumb_dir(pair_id)}"
        if not client.list_artifacts(run_id, path):
            return None
        return Path(client.download_artifacts(run_id, path, str(folder)))

    return pair_dir


def run_report_command(args: argparse.Namespace) -> int:
    import tempfile

    from qa_harness.gate.evaluate import evaluate_policy_file
    from qa_harness.gate.policy import load_policy
    from qa_harness.report.build import build_report
    from qa_harness.runs import mlflow_io
    from qa_harness.runs.records import check_same_suite

    policy = load_policy(args.policy) if args.policy else None
    client = mlflow_io.client_for(args.tracking_uri)
    candidate = mlflow_io.load_run(client, args.run)
    baseline = mlflow_io.load_run(client, args.baseline) if args.baseline else None
    if baseline is not None:
        check_same_suite(candidate, baseline, allow_mismatch=args.allow_suite_mismatch)
    gate = (
        evaluate_policy_file(args.policy, policy, candidate, baseline)
        if policy
        else _logged_gate(client, candidate.run_id)
    )
    out = args.out or Path(f"report-{candidate.run_id}.html")
    with tempfile.TemporaryDirectory() as tmp:
        thumbs = _mlflow_thumbs(client, candidate.run_id, Path(tmp))
        html = build_report(candidate, baseline=baseline, gate=gate, thumbs=thumbs, worst_k=args.worst)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    if not args.no_log:
        client.log_artifact(candidate.run_id, str(out), artifact_path="report")
    print(f"report: {out} ({len(html.encode()) / 1024:.0f} KiB)")
    return 0
