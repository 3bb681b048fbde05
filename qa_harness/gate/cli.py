"""`qa-harness gate`: evaluate a policy on a candidate run against a baseline, exit 0 pass / 1 fail.

Usage and configuration errors (bad policy, unknown run, different suite versions, a selector naming
a condition outside the vocabulary of `suites/vocabulary.py` and the runs' records) raise
`QaHarnessError`, which the CLI turns into exit code 2 with the message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa_harness.packaged import DEFAULT_GATE

EXIT_PASS, EXIT_FAIL = 0, 1


def add_gate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gate",
        help="release gate: check a candidate run against a policy and a baseline",
        description="Check a candidate evaluation run against a gate policy (absolute thresholds and "
        "regressions against a baseline run, per condition). Exit 0 pass, 1 fail, 2 error.",
    )
    p.add_argument(
        "--candidate",
        required=True,
        help="candidate run: MLflow run id, run folder (evaluate --out) or models:/<name>@<alias>",
    )
    p.add_argument(
        "--baseline",
        help="baseline run: MLflow run id or models:/<name>@<alias> (without one, relative rules are skipped; "
        "a policy of relative rules only is then an error)",
    )
    p.add_argument(
        "--policy", type=Path, default=DEFAULT_GATE, help="gate policy file (default: the shipped gates/default.yaml)"
    )
    p.add_argument(
        "--allow-suite-mismatch",
        action="store_true",
        help="pair clips by pair id even when the runs used different suite versions",
    )
    p.add_argument("--junit", type=Path, help="write JUnit XML here (one testcase per rule x condition)")
    p.add_argument("--markdown", type=Path, help="write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--no-log", action="store_true", help="do not log the verdict to the candidate run")
    p.add_argument(
        "--promote",
        metavar="ALIAS",
        help="on a pass, point this registered-model alias at the candidate's model version",
    )
    p.add_argument("--model-name", help="registered model for --promote (default: the baseline's models:/ name)")
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///./qa_runs/mlflow.db)"
    )
    p.set_defaults(func=run_gate_command)


def run_gate_command(args: argparse.Namespace) -> int:
    from qa_harness.errors import QaHarnessError
    from qa_harness.gate import io
    from qa_harness.gate.evaluate import evaluate_policy_file
    from qa_harness.gate.output import render_junit, render_markdown, render_table
    from qa_harness.gate.policy import load_policy
    from qa_harness.runs import mlflow_io
    from qa_harness.runs.records import check_same_suite

    policy = load_policy(args.policy)
    model_name = args.model_name
    if args.promote and not model_name:
        parsed = mlflow_io.parse_model_uri(args.baseline or "")
        if parsed is None:
            raise QaHarnessError("--promote needs --model-name, or a --baseline of the form models:/<name>@<alias>")
        model_name = parsed[0]
    if not args.baseline and all(rule.threshold is None for rule in policy.rules):
        raise QaHarnessError(
            f"{args.policy}: every rule limits the regression against a baseline, so without --baseline nothing "
            "would be checked; give --baseline RUN|models:/<name>@<alias>"
        )
    client = mlflow_io.client_for(args.tracking_uri)
    candidate = mlflow_io.load_run(client, args.candidate)
    baseline = mlflow_io.load_run(client, args.baseline) if args.baseline else None
    if baseline is not None:
        check_same_suite(candidate, baseline, allow_mismatch=args.allow_suite_mismatch)
    result = evaluate_policy_file(args.policy, policy, candidate, baseline)
    print(render_table(result))
    if not result.decided:
        raise QaHarnessError(
            f"no rule of {args.policy} could be checked (every check was skipped; the table says why), so there "
            "is no verdict"
        )
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(render_junit(result), encoding="utf-8")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(result), encoding="utf-8")
    if not args.no_log:
        io.log_gate_result(client, candidate.run_id, result, policy_path=args.policy, baseline_ref=args.baseline)
    if not result.passed:
        return EXIT_FAIL
    if args.promote:
        version = io.promote(client, model_name=model_name, alias=args.promote, run_id=candidate.run_id)
        print(
            f"promoted: models:/{model_name}@{args.promote} -> version {version} (run {candidate.run_id})",
            file=sys.stderr,
        )
    return EXIT_PASS
