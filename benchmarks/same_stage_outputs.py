"""Same gate, compare and report outputs before and after a refactor of the reader layer (`qa_harness/runs/`).

    python benchmarks/same_numbers.py run RUNS                   # the demo runs (3 models, one MLflow store)
    python benchmarks/same_stage_outputs.py dump RUNS DEST       # with this checkout on PYTHONPATH
    python benchmarks/same_stage_outputs.py compare DEST_A DEST_B

`dump` reads the runs of RUNS and writes, for the default gate and for a strict policy whose checks fail
(so that worst-clip rankings, the report's failing-clip section and absolute thresholds are exercised):
each gate result (JSON), the HTML report of each candidate, the `compare` table and the cost points, run
ids replaced by `RUN`. Dump both checkouts from the same RUNS; `compare` demands every file byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODELS = ("identity", "landmark_tps", "driving")
PAIRS = (("landmark_tps", "identity"), ("driving", "identity"), ("identity", None))
#: Flipped directions and zero limits: any real difference between two models fails one of each pair.
STRICT = """version: 1
name: strict
statistics: {method: percentile, confidence: 0.95, resamples: 500, seed: 0}
min_clips: 2
insufficient: fail
rules:
  - {name: psnr-mean, metric: psnr, aggregate: mean, conditions: [all, each], max_regression: 0.0}
  - {name: psnr-flip, metric: psnr, aggregate: mean, conditions: [all, each], max_regression: 0.0,
     higher_is_better: false}
  - {name: ssim-p10, metric: ssim, aggregate: p10, conditions: [all, each], max_regression: 0.0}
  - {name: ssim-p10-flip, metric: ssim, aggregate: p10, conditions: [all, each], max_regression: 0.0,
     higher_is_better: false}
  - {name: ssim-abs, metric: ssim, aggregate: mean, conditions: [all, each], threshold: 0.999}
  - {name: l1-abs, metric: l1, aggregate: p90, conditions: [all], threshold: 0.0}
"""


def dump(runs_dir: Path, dest: Path) -> None:
    from qa_harness.compare import CompareSettings, compare_runs, cost_points
    from qa_harness.gate.evaluate import evaluate_policy_file
    from qa_harness.gate.output import result_to_json
    from qa_harness.gate.policy import load_policy
    from qa_harness.packaged import DEFAULT_GATE
    from qa_harness.report.build import build_report
    from qa_harness.runs.mlflow_io import client_for, load_run

    client = client_for(f"sqlite:///{runs_dir / 'mlflow.db'}")
    runs = {m: load_run(client, str(runs_dir / m)) for m in MODELS}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "strict.yaml").write_text(STRICT)
    files: dict[str, str] = {}
    for label, policy_path in (("default", DEFAULT_GATE), ("strict", dest / "strict.yaml")):
        policy = load_policy(policy_path)
        for cand, base in PAIRS:
            baseline = runs[base] if base else None
            result = evaluate_policy_file(Path(policy_path), policy, runs[cand], baseline)
            files[f"{label}_gate_{cand}_{base}.json"] = result_to_json(result)
            files[f"{label}_report_{cand}_{base}.html"] = build_report(runs[cand], baseline=baseline, gate=result)
    ordered = [runs[m] for m in MODELS]
    files["compare.csv"] = compare_runs(ordered, CompareSettings()).to_csv(index=False, float_format="%.17g")
    cost = cost_points(ordered, ["l1", "psnr", "ssim"], label_param=None).drop(columns=["run", "label"])
    files["cost.csv"] = cost.to_csv(index=False, float_format="%.17g")
    for name, text in files.items():
        for run in ordered:
            text = text.replace(run.run_id, "RUN")
        (dest / name).write_text(text)
    print(f"dumped {len(files)} files to {dest}")


def compare(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.iterdir() if p.name != "strict.yaml")
    differ = [n for n in names if not (b / n).is_file() or (a / n).read_bytes() != (b / n).read_bytes()]
    size = sum((a / n).stat().st_size for n in names)
    print(f"differ: {', '.join(differ)}" if differ else f"identical: {len(names)} files, {size} bytes")
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "dump":
        dump(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
