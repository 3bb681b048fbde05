"""Face metrics' cost with the `identity` model, and the shared face analysis before/after (issue 18 item 1).

    python -m benchmarks.shared_face_bench [--max-frames 40] [--batch-size 16]

Whole `evaluate` calls (runner, records, MLflow sqlite) of the `identity` model (its output is the source
frame: only the harness is timed) on the demo suite's reconstruction pairs (6 real clips x 40 frames, 256
px), ground-truth caches warm (a cold run of each configuration first). Per metric set: frames/s of the
pair loop and of the whole call, ms/frame. `aed` and the demo's face set run twice in the same process:
*before*, dlib's own HOG detector per frame (`metric_options: {aed: {landmarks: null}}`, today's path up
to f8bed04) and *after*, the face the shared MediaPipe analysis found (the default); the after/before
frames/s ratio is printed, and the per-clip AED means of the two are compared. Asserts the timed runs
wrote no cache file (zero ground-truth analysis when warm). Prints Markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.evaluate_bench import recon_only_suite
from qa_harness.evaluate import EvalConfig, run_evaluation

PIXEL = ("l1", "psnr", "ssim")
DEMO_FACE = (*PIXEL, "akd", "aed", "face_regions", "ear_mar")
SETS = {
    "l1, psnr, ssim": PIXEL,
    "akd alone": ("akd",),
    "face_regions alone": ("face_regions",),
    "aed alone": ("aed",),
    "demo set (pixel + akd + aed + face_regions + ear_mar)": DEMO_FACE,
}
BEFORE = {"aed": {"landmarks": None}}


def with_options(suite: Path, options: dict, tag: str) -> Path:
    """A copy of the suite manifest (same folder, so the same cache) with `metric_options`."""
    manifest = yaml.safe_load(suite.read_text())
    manifest["metric_options"] = options
    path = suite.with_name(f"{suite.stem}-{tag}.yaml")
    path.write_text(yaml.safe_dump(manifest))
    return path


def evaluate(suite: Path, metrics: tuple[str, ...], tmp: Path, batch: int) -> tuple[float, float, float, Path]:
    """(pair-loop frames/s, whole-call frames/s, whole-call frames per CPU second, run folder) of one
    `identity` run; CPU time (this process's threads) is much less moved by other jobs than wall time."""
    out = tmp / f"run-{time.monotonic_ns()}"
    start, cpu = time.perf_counter(), time.process_time()
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model="identity",
            batch_size=batch,
            out_dir=out,
            progress=False,
            tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
            metrics=metrics,
        )
    )
    assert not result.failed, [o.error for o in result.failed]
    frames = sum(o.frames for o in result.outcomes)
    whole, cpu = time.perf_counter() - start, time.process_time() - cpu
    return result.frames_per_second, frames / whole, frames / cpu, out


def clip_aed(run: Path) -> dict[str, float]:
    """Per-clip mean AED of a run folder's frame records (`store`: <out>/frames.parquet)."""
    frames = pd.read_parquet(run / "frames.parquet")
    return {str(k): float(v) for k, v in frames.groupby("pair_id")["metric:aed"].mean().items()}


def cache_files(tmp: Path) -> set[Path]:
    return set((tmp / ".qa_cache").rglob("*.npz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    os.environ.pop("QA_HARNESS_CACHE", None)  # the cache beside the temporary suite, cold at first
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        after = recon_only_suite(tmp, args.max_frames)
        before = with_options(after, BEFORE, "before")
        for suite in (before, after):  # cold: fills the ground-truth caches of both configurations
            evaluate(suite, DEMO_FACE, tmp, args.batch_size)
        warm = cache_files(tmp)
        print(f"load average {os.getloadavg()[0]:.1f}; `identity` model, batch {args.batch_size}, warm caches")
        print("| metrics | frames/s, whole call (pair loop) | ms per frame | frames per CPU second |")
        print("|---|---|---|---|")
        ratios, aed = {}, {}
        for label, metrics in SETS.items():
            modes = {"before": before, "after": after} if "aed" in metrics else {"": after}
            for mode, suite in modes.items():
                loop, whole, per_cpu, run = evaluate(suite, metrics, tmp, args.batch_size)
                ratios.setdefault(label, {})[mode] = (whole, per_cpu)
                if "aed" in metrics:
                    aed[mode] = clip_aed(run)
                name = f"{label}, {mode}" if mode else label
                print(f"| {name} | {whole:.1f} ({loop:.1f}) | {1000 / whole:.0f} | {per_cpu:.1f} |", flush=True)
        assert cache_files(tmp) == warm, "a warm run analysed ground truth (new cache files)"
    print("\nzero ground-truth analysis in the timed runs (no cache file written)")
    for label, by_mode in ratios.items():
        if "before" in by_mode:
            (wall_a, cpu_a), (wall_b, cpu_b) = by_mode["after"], by_mode["before"]
            print(f"{label}: after/before {wall_a / wall_b:.2f}x frames/s wall, {cpu_a / cpu_b:.2f}x per CPU second")
    gaps = [abs(aed["after"][k] - aed["before"][k]) for k in aed["before"]]
    print(f"per-clip mean AED, after - before: max |diff| {max(gaps):.4f} over {len(gaps)} clips")
    assert max(gaps) <= 0.005, "AED moved more than the stated tolerance (0.005 per clip mean)"
    print("before:", {k: round(v, 4) for k, v in aed["before"].items()})
    print("after: ", {k: round(v, 4) for k, v in aed["after"].items()})


if __name__ == "__main__":
    main()
