"""The `qa-harness` command line.

Exit codes: 0 success; 1 a quality gate failed; 2 usage, configuration, input or environment error (the
message names the file and the problem); 3 an evaluation finished but some clips failed (listed in its
summary); 4 internal error (a bug: traceback printed); 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from qa_harness import __version__
from qa_harness.compare_cli import add_compare_parser
from qa_harness.errors import QaHarnessError
from qa_harness.exitcodes import (
    EXIT_CLIPS_FAILED,
    EXIT_ERROR,
    EXIT_GATE_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    interrupted_code,
    interrupted_reason,
    sigterm_raises,
)
from qa_harness.gate.cli import add_gate_parser
from qa_harness.native import native_lines_filtered
from qa_harness.report.cli import add_report_parser
from qa_harness.suites.cli import add_build_parser, add_synth_parser, add_tag_parser
from qa_harness.weights_cli import add_weights_parser


def _model_option(text: str) -> tuple[str, object]:
    """'iterations=3' -> ('iterations', 3); values are parsed as YAML scalars."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="run a model over a suite, score every frame, log to MLflow",
        description="Run a model over a suite, score every frame, log the run to MLflow.",
    )
    p.add_argument("--suite", type=Path, help="suite manifest (suites/*.yaml); required unless --matrix")
    p.add_argument(
        "--model",
        help="registered model name (see `qa-harness models`) or "
        "package.module:factory for your own; required unless --matrix",
    )
    p.add_argument(
        "--matrix",
        type=Path,
        metavar="FILE",
        help="evaluate several models/checkpoints over one "
        "suite, one MLflow run each under a parent run (see examples/matrix.yaml); suite, seed, "
        "batch size, device and metrics come from the file; --out holds a folder per run; runs on "
        "Ray unless --executor local",
    )
    p.add_argument("--checkpoint", type=Path, help="model checkpoint file")
    p.add_argument(
        "--config", help="model config: an official config name (e.g. vox-256) or a YAML path (same as -o config=...)"
    )
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a checkpoint that needs unpickling of code (runs code from the file: only for files you trust)",
    )
    p.add_argument(
        "--option",
        "-o",
        action="append",
        type=_model_option,
        default=[],
        metavar="KEY=VALUE",
        help="model option, repeatable (e.g. -o iterations=3)",
    )
    p.add_argument("--metrics", help="comma-separated metric names (default: the suite's, else l1,psnr,ssim,lpips)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--batch-size", type=int, default=16, help="driving frames per model call (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--metric-workers",
        type=int,
        default=0,
        metavar="N",
        help="score metrics in N worker processes while the model renders the next batches "
        "(local executor; same records; default 0: in this process)",
    )
    p.add_argument("--out", type=Path, help="run folder (default qa_runs/<suite>__<model>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: evaluate the pairs that failed "
        "again too (a transient failure: out of memory, full disk); recorded in the run's summary",
    )
    p.add_argument(
        "--pair-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="fail a pair whose model and metrics take longer than this (any executor, --matrix too; default: none)",
    )
    ray = p.add_argument_group(
        "executor",
        "where pairs are evaluated: `local` (this process, the default) or "
        "`ray` (Ray actors on this machine or a cluster; pip install 'qa_harness[ray]')",
    )
    ray.add_argument("--executor", help="local or ray (default: local; ray with --matrix)")
    ray.add_argument(
        "--address",
        help="Ray cluster: auto (the cluster of this node) or ray://HOST:PORT; default: a private local Ray instance",
    )
    ray.add_argument("--workers", type=int, help="Ray workers (one model each; default: all the cluster offers)")
    ray.add_argument("--gpus-per-worker", type=float, help="GPUs per Ray worker (default 0: CPU workers)")
    _add_tracking_args(p)
    p.set_defaults(func=_cmd_evaluate)


def _model_options(args: argparse.Namespace) -> dict[str, object]:
    """`-o` options plus the --config / --trust-checkpoint shorthands (only when given)."""
    options = dict(args.option)
    if args.config:
        options["config"] = args.config
    if args.trust_checkpoint:
        options["trust_checkpoint"] = True
    return options


def _executor_choice(args: argparse.Namespace) -> tuple[str, dict]:
    """(executor name, its options) from the flags; Ray flags without the Ray executor are an error."""
    executor = args.executor or ("ray" if args.matrix else "local")
    options = {
        k: v
        for k, v in (("address", args.address), ("workers", args.workers), ("gpus_per_worker", args.gpus_per_worker))
        if v is not None
    }
    if options and executor != "ray":
        raise QaHarnessError(f"--{'/--'.join(k.replace('_', '-') for k in options)} need --executor ray")
    return executor, options


def _add_tracking_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///./qa_runs/mlflow.db)"
    )
    p.add_argument("--experiment", default="qa_harness", help="MLflow experiment name")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    executor, options = _executor_choice(args)
    if args.matrix:
        return _cmd_matrix(args, executor, options)
    if args.suite is None or args.model is None:
        raise QaHarnessError("evaluate: --suite and --model are required (or --matrix FILE)")
    if args.retry_failed and not args.resume:
        raise QaHarnessError("evaluate: --retry-failed retries the failed pairs of a run: it needs --resume")
    from qa_harness.evaluate import EvalConfig, run_evaluation
    from qa_harness.summary import print_result

    cfg = EvalConfig(
        suite=args.suite,
        model=args.model,
        checkpoint=args.checkpoint,
        model_options=_model_options(args),
        device=args.device,
        batch_size=args.batch_size,
        seed=args.seed,
        metrics=tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else (),
        out_dir=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        executor=executor,
        executor_options=options,
        retry_failed=args.retry_failed,
        pair_timeout=args.pair_timeout,
        metric_workers=args.metric_workers,
    )
    result = run_evaluation(cfg)
    print_result(result)
    return EXIT_CLIPS_FAILED if result.failed else EXIT_OK


def _cmd_matrix(args: argparse.Namespace, executor: str, options: dict) -> int:
    given = [f"--{k}" for k in ("suite", "model", "checkpoint", "metrics") if getattr(args, k) is not None]
    if given or args.option or args.config or args.trust_checkpoint:
        raise QaHarnessError(f"evaluate --matrix: {', '.join(given or ['--option'])} belong in the matrix file")
    from qa_harness.matrix import load_matrix, run_matrix
    from qa_harness.summary import print_result

    matrix = load_matrix(args.matrix)
    result = run_matrix(
        matrix,
        out=args.out,
        tracking_uri=args.tracking_uri,
        executor=executor,
        executor_options=options,
        resume=args.resume,
        overwrite=args.overwrite,
        pair_timeout=args.pair_timeout,
    )
    for name, run in result.results.items():
        print(f"== {name}")
        print_result(run)
    print(f"matrix parent run {result.parent_run_id}: {len(result.results)} runs")
    return EXIT_CLIPS_FAILED if any(r.failed for r in result.results.values()) else EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from qa_harness.suites.facecrop import face_in_crop
    from qa_harness.suites.manifest import load_suite

    suite = load_suite(args.file)
    clips = {c.id: c for p in suite.pairs for c in (p.source, p.driving)}
    problems = {c.id: c.problem for c in clips.values() if c.problem}
    print(f"{args.file}: suite '{suite.name}' version {suite.version}: {len(suite.pairs)} pairs")
    for clip_id, problem in problems.items():
        print(f"  clip {clip_id!r}: {problem}", file=sys.stderr)
    for c in clips.values():  # a warning, not an error: a faceless crop is legal, rarely meant
        if not c.problem and not face_in_crop(c.path, resolution=suite.resolution, crop=c.crop):
            where = f"crop box {c.crop}" if c.crop else "the centred square (no crop box)"
            print(f"  warning: clip {c.id!r}: no face found in its first frame through {where}", file=sys.stderr)
    if problems or args.policy is None:
        return EXIT_ERROR if problems else EXIT_OK
    from qa_harness.gate.policy import load_policy
    from qa_harness.suites.support import policy_support, render_support
    from qa_harness.suites.vocabulary import suite_vocabulary

    rows = policy_support(suite, load_policy(args.policy), suite_vocabulary(args.file))
    print(render_support(rows))
    return EXIT_OK if all(r.supported for r in rows) else EXIT_GATE_FAILED


def _cmd_list(args: argparse.Namespace) -> int:
    from qa_harness import catalog

    registry = {"models": catalog.MODELS, "metrics": catalog.METRICS}[args.command]
    print("\n".join(registry.names()))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from qa_harness.demo import run_demo

    return run_demo(out=args.out, tracking_uri=args.tracking_uri, max_frames=args.max_frames)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-harness", description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--version", action="version", version=f"qa-harness {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_evaluate_parser(sub)
    suites = sub.add_parser("suites", help="suite manifests", description="Work with suite manifests.")
    suites_sub = suites.add_subparsers(dest="suites_command", required=True, metavar="COMMAND")
    validate = suites_sub.add_parser(
        "validate",
        help="check a manifest and probe its media (and which checks of a policy it supports)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check a manifest and probe its media. With --policy, also list every check of the policy "
        "(rule x condition value, as the gate expands it on this suite's tags) with the suite's clips there "
        "against the rule's min_clips.\n\nexit 0: valid (and every check of the policy supported); 1: valid, "
        "but some checks have fewer clips than min_clips (the gate would not gate them); 2: invalid manifest or "
        "policy, unreadable media, or a policy selector naming a condition outside the suite's vocabulary.",
    )
    validate.add_argument("file", type=Path)
    validate.add_argument("--policy", type=Path, help="gate policy whose checks the suite must support")
    validate.set_defaults(func=_cmd_validate)
    for add in (add_build_parser, add_tag_parser, add_synth_parser):
        add(suites_sub)
    for name in ("models", "metrics"):
        sub.add_parser(name, help=f"list registered {name}", description=f"List registered {name}.").set_defaults(
            func=_cmd_list
        )
    demo = sub.add_parser(
        "demo",
        help="evaluate the baselines on the shipped demo suite",
        description="Evaluate the weight-free baselines on suites/demo.yaml (real clips "
        "shipped in the repo), log to MLflow and print a per-condition table.",
    )
    demo.add_argument("--out", type=Path, default=Path("qa_runs/demo"), help="folder for the demo runs")
    demo.add_argument("--tracking-uri", help="MLflow tracking URI (default: embedded store in ./qa_runs)")
    demo.add_argument(
        "--max-frames", type=int, help="cap driving frames per pair (a quick smoke run; the suite has 40)"
    )
    demo.set_defaults(func=_cmd_demo)
    add_gate_parser(sub)
    add_compare_parser(sub)
    add_report_parser(sub)
    add_weights_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        with sigterm_raises():
            return args.func(args)
    except QaHarnessError as err:
        print(f"qa-harness: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as err:
        print(
            f"qa-harness: interrupted ({interrupted_reason(err)}); an evaluation can be continued with --resume",
            file=sys.stderr,
        )
        return interrupted_code(err)
    except (Exception, SystemExit) as err:  # a bug (ours or plug-in code): never a success, never exit 1
        traceback.print_exc()
        what = f"sys.exit({err.code!r}) called by code qa-harness ran" if isinstance(err, SystemExit) else "a bug"
        print(f"qa-harness: internal error ({what}): {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_INTERNAL


def console_main() -> None:
    """The `qa-harness` executable: `main`, then exit with its code.

    An interrupted process ends with `os._exit` once its streams are flushed: a signal mid-batch leaves native
    worker threads (decoding, thread pools) inside library calls, and interpreter shutdown then aborted in them
    (SIGABRT, "terminate called without an active exception", instead of 143). Everything the run must record
    (records, MLflow status KILLED) is written before `main` returns."""
    with native_lines_filtered():
        code = main()
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
