"""The `qa-harness` command line.

Exit codes: 0 success; 1 a quality gate failed; 2 usage, configuration or input error (the message
names the file and the problem); 3 an evaluation finished but some clips failed (listed in its summary).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from qa_harness import __version__
from qa_harness.errors import QaHarnessError

EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR, EXIT_CLIPS_FAILED = 0, 1, 2, 3


def _model_option(text: str) -> tuple[str, object]:
    """'iterations=3' -> ('iterations', 3); values are parsed as YAML scalars."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="run a model over a suite, score every frame, log to MLflow",
                       description="Run a model over a suite, score every frame, log the run to MLflow.")
    p.add_argument("--suite", type=Path, required=True, help="suite manifest (suites/*.yaml)")
    p.add_argument("--model", required=True, help="registered model name (see `qa-harness models`) or "
                   "package.module:factory for your own")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint file")
    p.add_argument("--option", "-o", action="append", type=_model_option, default=[], metavar="KEY=VALUE",
                   help="model option, repeatable (e.g. -o iterations=3)")
    p.add_argument("--metrics", help="comma-separated metric names (default: the suite's, else l1,psnr,ssim,lpips)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--batch-size", type=int, default=16, help="driving frames per model call (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="run folder (default qa_runs/<suite>__<model>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    _add_tracking_args(p)
    p.set_defaults(func=_cmd_evaluate)


def _add_tracking_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
                   "sqlite:///./qa_runs/mlflow.db)")
    p.add_argument("--experiment", default="qa_harness", help="MLflow experiment name")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from qa_harness.evaluate import EvalConfig, run_evaluation
    from qa_harness.summary import print_result

    cfg = EvalConfig(
        suite=args.suite, model=args.model, checkpoint=args.checkpoint, model_options=dict(args.option),
        device=args.device, batch_size=args.batch_size, seed=args.seed,
        metrics=tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else (),
        out_dir=args.out, resume=args.resume, overwrite=args.overwrite, tracking_uri=args.tracking_uri,
        experiment=args.experiment,
    )
    result = run_evaluation(cfg)
    print_result(result)
    return EXIT_CLIPS_FAILED if result.failed else EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from qa_harness.suites.manifest import load_suite

    suite = load_suite(args.file)
    problems = {c.id: c.problem for p in suite.pairs for c in (p.source, p.driving) if c.problem}
    print(f"{args.file}: suite '{suite.name}' version {suite.version}: {len(suite.pairs)} pairs")
    for clip_id, problem in problems.items():
        print(f"  clip {clip_id!r}: {problem}", file=sys.stderr)
    return EXIT_ERROR if problems else EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from qa_harness import catalog

    registry = {"models": catalog.MODELS, "metrics": catalog.METRICS}[args.command]
    print("\n".join(registry.names()))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from qa_harness.demo import run_demo

    return run_demo(out=args.out, tracking_uri=args.tracking_uri)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa-harness", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n")[1])
    parser.add_argument("--version", action="version", version=f"qa-harness {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_evaluate_parser(sub)
    suites = sub.add_parser("suites", help="suite manifests", description="Work with suite manifests.")
    suites_sub = suites.add_subparsers(dest="suites_command", required=True, metavar="COMMAND")
    validate = suites_sub.add_parser("validate", help="check a manifest and probe its media",
                                     description="Check a manifest and probe its media; exit 2 on any problem.")
    validate.add_argument("file", type=Path)
    validate.set_defaults(func=_cmd_validate)
    for name in ("models", "metrics"):
        sub.add_parser(name, help=f"list registered {name}", description=f"List registered {name}.").set_defaults(
            func=_cmd_list)
    demo = sub.add_parser("demo", help="evaluate the baselines on the shipped demo suite",
                          description="Evaluate the weight-free baselines on suites/demo.yaml (real clips "
                          "shipped in the repo), log to MLflow and print a per-condition table.")
    demo.add_argument("--out", type=Path, default=Path("qa_runs/demo"), help="folder for the demo runs")
    demo.add_argument("--tracking-uri", help="MLflow tracking URI (default: embedded store in ./qa_runs)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except QaHarnessError as err:
        print(f"qa-harness: error: {err}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
