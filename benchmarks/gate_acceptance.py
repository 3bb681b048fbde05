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


def gate(candidate: RunRecords, baseline: RunRecords) -> GateResult:
    return evaluate_policy_file(POLICY, load_policy(POLICY), candidate, baseline)


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


def confined(run, suite: Path, baseline: RunRecords, values: list[str], drop: float) -> bool:
    print(f"\n## A regression of ~{drop} SSIM confined to one condition value\n")
    columns = ("condition", "clips", "sigma", "SSIM lost inside", "outside", "ssim-mean check", "detectable", "p adj")
    print("| " + " | ".join((*columns, "blamed elsewhere")) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    good = True
    for seed, where in enumerate(values, start=100):
        sigma = defect_blur(suite, where, drop)
        candidate = run(f"defect {where}", seed, defect_where=where, defect_blur=sigma)
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


def reruns(run, reference: RunRecords, count: int) -> bool:
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
    args = parser.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="gate_acceptance_"))
    folder.mkdir(parents=True, exist_ok=True)
    suite, uri = shipped_gate_suite(folder, args.frames), f"sqlite:///{folder / 'mlflow.db'}"
    client, started = io.client_for(uri), time.perf_counter()

    def run(name: str, seed: int, **options) -> RunRecords:
        return io.load_run(client, evaluate(suite, uri, folder, seed=seed, name=name, quality=QUALITY, **options))

    baseline = run("baseline", 0)
    values = [str(s) for s in parse_selector("each").expand(baseline.frames)]
    values = [v for v in values if v in args.only.split(",")] if args.only else values
    print(f"# Gating suite acceptance: {suite.name} ({baseline.frames['pair_id'].nunique()} clips), {POLICY.name}")
    caught = confined(run, suite, baseline, values, args.drop)
    reference = run("reference", 1)
    quiet = reruns(run, reference, args.reruns) if args.reruns else True
    not_gated = gate(reference, baseline).not_gated
    print(f"\n## Not gated ({len(not_gated)} checks)\n")
    for check in not_gated:
        print(f"- {check.name}: {check.not_gated}")
    print(f"\n{time.perf_counter() - started:.0f} s; runs in {folder}")
    ok = caught and quiet
    print("ACCEPTED" if ok else "NOT ACCEPTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
