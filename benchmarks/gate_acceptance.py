"""The gating suite's acceptance figures: real runs on the shipped `suites/gate.yaml` with the default policy.

Real evaluation runs (runner, metrics, an MLflow sqlite store) of the `tests.helpers.gate_models:good`
plug-in model (ground truth + mild blur + noise; per-clip quality noise of a retrained checkpoint):

1. a baseline; per condition value the policy gates (every value `each` gives on the suite), a
   candidate whose only defect is an extra blur on that value's frames, sized to cost `--drop` SSIM
   there: is `ssim-mean[value]` failed, and does any condition made only of untouched frames fail?
2. `--reruns` clean re-runs (other seeds), each gated against a reference run: how many fail?
3. what is NOT GATED, with the reason.

Exit 0 when every confined regression is caught by name and nowhere else, the re-runs give at most one
false alarm, and every check is gated or listed NOT GATED. About 35 s per run on 2 cores.

    python -m benchmarks.gate_acceptance [--reruns 20] [--frames N] [--only yaw=moderate,...] [--out DIR]
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

from qa_harness.gate.evaluate import GateResult, evaluate_policy_file
from qa_harness.gate.policy import load_policy
from qa_harness.runs import mlflow_io as io
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import parse_selector
from tests.gate.real_runs import ROOT, defect_blur, evaluate, shipped_gate_suite

POLICY = ROOT / "gates" / "default.yaml"
QUALITY = 0.5  # per-pair blur spread of the good model: per-clip SSIM moves by up to ~0.02 between runs


def gate(candidate: RunRecords, baseline: RunRecords, policy: Path = POLICY) -> GateResult:
    return evaluate_policy_file(policy, load_policy(policy), candidate, baseline)


def saved_run(client, name: str, seed: int) -> str | None:
    """The id of a finished run called `name` made with `seed` in the store (`--reuse`), else None."""
    found = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"attributes.run_name = '{name}' and attributes.status = 'FINISHED'",
    )
    return next((r.info.run_id for r in found if r.data.params.get("seed") == str(seed)), None)


def ssim_drop(candidate: RunRecords, baseline: RunRecords, where: str) -> tuple[float, float]:
    """Mean SSIM lost on the frames matching `where`, and on the others."""
    inside = parse_selector(where).concrete.mask(candidate.frames)
    lost = baseline.frames["metric:ssim"] - candidate.frames["metric:ssim"]
    return float(lost[inside].mean()), float(lost[~inside].mean())


def wrongly_failed(result: GateResult, candidate: RunRecords, where: str) -> list[str]:
    """Failed checks on conditions with no frame inside `where` (a regression blamed where it is not)."""
    inside = parse_selector(where).concrete.mask(candidate.frames)
    out = []
    for check in result.failures:
        if (
            check.condition != "all"
            and not parse_selector(check.condition).concrete.mask(candidate.frames)[inside].any()
        ):
            out.append(check.name)
    return out


def confined(run, gate, suite: Path, baseline: RunRecords, values: dict[str, int], drop: float) -> bool:
    """Per value (-> its candidate's seed), a regression confined to it: caught by name, blamed nowhere else?"""
    print(f"\n## A regression of ~{drop} SSIM confined to one condition value\n")
    columns = ("condition", "clips", "sigma", "SSIM lost inside", "outside", "ssim-mean check", "detectable", "p adj")
    print("| " + " | ".join((*columns, "blamed elsewhere")) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    good = True
    for where, seed in values.items():
        candidate = run(
            f"defect {where}", seed, defect_where=where, defect_blur=lambda where=where: defect_blur(suite, where, drop)
        )
        sigma = float(candidate.params["model_option.defect_blur"])
        result = gate(candidate, baseline)
        check = {c.name: c for c in result.checks}[f"ssim-mean[{where}]"]
        inside, outside = ssim_drop(candidate, baseline, where)
        elsewhere = wrongly_failed(result, candidate, where)
        good &= check.status == "fail" and not elsewhere
        print(
            f"| {where} | {check.n_clips} | {sigma:.2f} | {inside:.4f} | {outside:+.4f} | {check.status.upper()} | "
            f"{check.detectable:.4f} | {check.p_adjusted:.2g} | {', '.join(elsewhere) or 'none'} |",
            flush=True,
        )
    return good


def reruns(run, gate, reference: RunRecords, count: int) -> bool:
    print(f"\n## {count} clean re-runs (per-clip quality noise) against a reference run\n")
    alarms = []
    for seed in range(2, count + 2):
        result = gate(run(f"rerun {seed}", seed), reference)
        alarms += [f"seed {seed}: {c.name}" for c in result.failures]
        print(f"- seed {seed}: {'FAIL ' + ', '.join(c.name for c in result.failures) if result.failures else 'pass'}")
    print(
        f"\nfalse alarms: {len(alarms)} failing check(s) in {count} gates"
        + (f": {'; '.join(alarms)}" if alarms else "")
    )
    return len(alarms) <= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reruns", type=int, default=20, help="clean re-runs (default 20)")
    parser.add_argument("--drop", type=float, default=0.05, help="SSIM cost of each confined regression")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default: the suite's)")
    parser.add_argument("--only", default="", help="comma-separated condition values (default: every gated one)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--policy", type=Path, default=POLICY, help=f"policy file (default: {POLICY.name})")
    parser.add_argument(
        "--reuse", action="store_true", help="gate the runs already in --out (same name and seed) instead of re-running"
    )
    args = parser.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="gate_acceptance_"))
    folder.mkdir(parents=True, exist_ok=True)
    suite, uri = shipped_gate_suite(folder, args.frames), f"sqlite:///{folder / 'mlflow.db'}"
    client, started = io.client_for(uri), time.perf_counter()

    def run(name: str, seed: int, **options) -> RunRecords:
        """A run of the good model; options given as callables are computed only when it is not reused."""
        saved = saved_run(client, name, seed) if args.reuse else None
        if saved is None:
            options = {k: v() if callable(v) else v for k, v in options.items()}
            saved = evaluate(suite, uri, folder, seed=seed, name=name, quality=QUALITY, **options)
        return io.load_run(client, saved)

    baseline = run("baseline", 0)
    every = [str(s) for s in parse_selector("each").expand(baseline.frames)]
    seeds = {v: seed for seed, v in enumerate(every, start=100)}  # a value's seed does not depend on --only
    values = {v: s for v, s in seeds.items() if v in args.only.split(",")} if args.only else seeds
    print(f"# Gating suite acceptance: {suite.name} ({baseline.frames['pair_id'].nunique()} clips), {args.policy}")
    check = functools.partial(gate, policy=args.policy)
    caught = confined(run, check, suite, baseline, values, args.drop)
    reference = run("reference", 1)
    quiet = reruns(run, check, reference, args.reruns) if args.reruns else True
    not_gated = check(reference, baseline).not_gated
    print(f"\n## Not gated ({len(not_gated)} checks)\n")
    for check in not_gated:
        print(f"- {check.name}: {check.not_gated}")
    print(f"\n{time.perf_counter() - started:.0f} s; runs in {folder}")
    ok = caught and quiet
    print("ACCEPTED" if ok else "NOT ACCEPTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
