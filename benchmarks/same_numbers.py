"""Same numbers before and after a refactor: evaluate the demo suite, then compare two such outputs exactly.

    python benchmarks/same_numbers.py run OUT        # demo models x demo metrics -> OUT/<model>/
    python benchmarks/same_numbers.py compare A B    # every value of frames/clips/aggregate, bit for bit
    python benchmarks/same_numbers.py compare A B metric:ssim=1e-6 ...   # named columns within a stated tolerance

`compare` reads `frames.parquet`, `clips.parquet` and `aggregate.csv` of each model and demands equal
columns, equal dtypes and equal values (NaN equal to NaN; floats compared by their bit patterns); only
`run_id` and the per-pair `seconds` (wall time) are left out. A column named as `COLUMN=TOL` (in every
table that has it, and in the aggregate's columns that start with it) may differ by at most TOL; its
largest difference is printed either way. Exit 0 when all agree, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = ("identity", "landmark_tps", "driving")
VOLATILE = {"run_id", "seconds"}


def run(out: Path) -> None:
    from qa_harness.demo import DEMO_SUITE
    from qa_harness.evaluate import EvalConfig, run_evaluation
    from qa_harness.suites.manifest import load_suite

    suite = load_suite(DEMO_SUITE)
    for model in MODELS:
        cfg = EvalConfig(
            suite=DEMO_SUITE,
            model=model,
            out_dir=out / model,
            overwrite=True,
            tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
            progress=False,
        )
        result = run_evaluation(cfg, suite=suite)
        print(f"{model}: {len(result.outcomes)} pairs, {len(result.failed)} failed", flush=True)


def _same(name: str, a: pd.DataFrame, b: pd.DataFrame, tolerances: dict[str, float]) -> list[str]:
    a, b = a.drop(columns=[c for c in VOLATILE if c in a]), b.drop(columns=[c for c in VOLATILE if c in b])
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{name}: {len(a)} vs {len(b)} rows"]
    problems = []
    for col in a.columns:
        x, y = a[col], b[col]
        tolerance = next((t for prefix, t in tolerances.items() if str(col).startswith(prefix)), None)
        if x.dtype != y.dtype:
            problems.append(f"{name}:{col}: dtype {x.dtype} vs {y.dtype}")
        elif x.dtype.kind == "f" and tolerance is not None:
            xs, ys = x.to_numpy(np.float64), y.to_numpy(np.float64)
            if not (np.isnan(xs) == np.isnan(ys)).all():
                problems.append(f"{name}:{col}: NaN in different places")
                continue
            gap = float(np.nanmax(np.abs(xs - ys), initial=0.0))
            print(f"{name}:{col}: max |a - b| {gap:.3g} (tolerance {tolerance:g})")
            if gap > tolerance:
                problems.append(f"{name}:{col}: max |a - b| {gap:.3g} > {tolerance:g}")
        elif x.dtype.kind == "f":
            bits = x.to_numpy().view(np.uint64) == y.to_numpy().view(np.uint64)
            both_nan = np.isnan(x.to_numpy()) & np.isnan(y.to_numpy())
            if not (bits | both_nan).all():
                problems.append(f"{name}:{col}: {int((~(bits | both_nan)).sum())} values differ")
        elif not x.fillna("<NA>").astype(str).equals(y.fillna("<NA>").astype(str)):
            problems.append(f"{name}:{col}: values differ")
    return problems


def compare(a: Path, b: Path, tolerances: dict[str, float] | None = None) -> int:
    problems, values = [], 0
    for model in MODELS:
        for name, read in (
            ("frames.parquet", pd.read_parquet),
            ("clips.parquet", pd.read_parquet),
            ("aggregate.csv", pd.read_csv),
        ):
            left, right = read(a / model / name), read(b / model / name)
            problems += _same(f"{model}/{name}", left, right, tolerances or {})
            values += left.size
    print("\n".join(problems) or f"identical: {values} values in {3 * len(MODELS)} tables")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(Path(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        named = dict(arg.rsplit("=", 1) for arg in sys.argv[4:])
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3]), {k: float(v) for k, v in named.items()}))
    else:
        sys.exit(__doc__)
