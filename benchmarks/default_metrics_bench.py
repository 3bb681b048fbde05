"""The default metric set's cost with the `identity` model, against the kernels it replaced (issue 18).

    python -m benchmarks.default_metrics_bench [--max-frames 40] [--batch-size 16] [--threads N]

Whole `evaluate` calls (runner, decode prefetch, records, MLflow sqlite) of the `identity` model (its
output is the source frame: only the harness is timed) with `catalog.DEFAULT_METRICS` (l1, psnr, ssim,
lpips) on the demo suite's reconstruction pairs (6 real clips x 40 frames, 256 px; the suite opts into the
LPIPS ground-truth cache, `metric_options: {lpips: {cache_reference: auto}}`). A cold run first fills
the ground-truth caches; the timed run is warm and must write no cache file (zero ground-truth analysis).
In the same process, over the same frames: *the old path*, a serial loop of decode and the kernels of
main before issue 18 (batched torch SSIM, whole-batch float64 PSNR, LPIPS on output and ground truth
together, no cache). Prints frames/s (wall and per CPU second, this process's threads: less moved by
other jobs than wall time), the ratio new/old, and the largest difference of every value: l1, psnr and
lpips must be equal bit for bit, ssim within 1e-6 (float32 rounding of another filter order).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from benchmarks.evaluate_bench import recon_only_suite
from benchmarks.shared_face_bench import evaluate
from qa_harness.catalog import DEFAULT_METRICS, METRICS
from qa_harness.metrics.base import MetricContext
from qa_harness.metrics.l1 import l1
from qa_harness.metrics.ssim import _ssim_torch
from qa_harness.suites.manifest import load_suite
from qa_harness.video.io import iter_frames

#: Stated tolerances, new record vs old kernel, per value (0: bit for bit).
TOLERANCE = {"l1": 0.0, "psnr": 0.0, "ssim": 1e-6, "lpips": 0.0}


def old_psnr(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mse = (output.double() - target.double()).square().flatten(1).mean(dim=1)
    return (10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))).float()


@torch.inference_mode()
def old_path(suite_path: Path, batch: int) -> tuple[float, float, pd.DataFrame]:
    """(frames/s, frames per CPU second, per-frame values) of decode + the pre-issue-18 kernels, serially."""
    suite = load_suite(suite_path)
    net = METRICS.build("lpips", MetricContext(device=torch.device("cpu"))).net  # no cache folder: no cache
    rows, start, cpu = [], time.perf_counter(), time.process_time()
    for pair in suite.pairs:
        source, frame = None, 0
        for target in iter_frames(
            pair.driving.path,
            resolution=suite.resolution,
            crop=pair.driving.crop,
            chunk=batch,
            max_frames=suite.max_frames,
        ):
            source = target[0] if source is None else source
            output = source.unsqueeze(0).expand_as(target).clone()
            values = {
                "l1": l1(output, target),
                "psnr": old_psnr(output, target),
                "ssim": _ssim_torch(output, target),
                "lpips": net(output * 2 - 1, target * 2 - 1),
            }
            for i in range(target.shape[0]):
                rows.append({"pair_id": pair.id, "frame": frame + i, **{k: float(v[i]) for k, v in values.items()}})
            frame += target.shape[0]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(rows) / wall, len(rows) / cpu, pd.DataFrame(rows)


def cache_files(folder: Path) -> set[Path]:
    return set(folder.rglob("*.np[yz]"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, help="torch threads (1: CPU time is the work alone, no spinning)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.pop("QA_HARNESS_CACHE", None)  # the cache beside the temporary suite, cold at first
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        suite = recon_only_suite(tmp, args.max_frames)
        manifest = yaml.safe_load(suite.read_text())  # the LPIPS ground-truth cache is opt-in (its disk size)
        manifest["metric_options"] = {"lpips": {"cache_reference": "auto"}}
        suite.write_text(yaml.safe_dump(manifest))
        cold = evaluate(suite, DEFAULT_METRICS, tmp, args.batch_size)
        warm_files = cache_files(tmp / ".qa_cache")
        load = os.getloadavg()[0]
        loop, whole, per_cpu, run = evaluate(suite, DEFAULT_METRICS, tmp, args.batch_size)
        assert cache_files(tmp / ".qa_cache") == warm_files, "the warm run analysed ground truth (new cache files)"
        del manifest["metric_options"]  # the shipped default: LPIPS passes the ground truth through AlexNet
        suite.write_text(yaml.safe_dump(manifest))
        uncached = evaluate(suite, DEFAULT_METRICS, tmp, args.batch_size)
        old_fps, old_cpu, old_values = old_path(suite, args.batch_size)
        load = max(load, os.getloadavg()[0])
        records = pd.read_parquet(run / "frames.parquet").set_index(["pair_id", "frame"]).sort_index()
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}"
    )
    print(f"`identity`, {', '.join(DEFAULT_METRICS)}, batch {args.batch_size}, {len(old_values)} frames at 256 px")
    print("| path | frames/s, whole call (pair loop) | frames per CPU second |")
    print("|---|---|---|")
    print(f"| cold (caches filled) | {cold[1]:.1f} ({cold[0]:.1f}) | {cold[2]:.1f} |")
    print(f"| warm (zero ground-truth analysis: no cache file written) | {whole:.1f} ({loop:.1f}) | {per_cpu:.1f} |")
    print(
        f"| LPIPS cache off (the default): ground truth through AlexNet "
        f"| {uncached[1]:.1f} ({uncached[0]:.1f}) | {uncached[2]:.1f} |"
    )
    print(f"| old path: serial decode + pre-issue-18 kernels, no records | {old_fps:.1f} | {old_cpu:.1f} |")
    print(f"warm/old: {whole / old_fps:.2f}x frames/s wall, {per_cpu / old_cpu:.2f}x per CPU second")
    old_values = old_values.set_index(["pair_id", "frame"]).sort_index()
    assert records.index.equals(old_values.index), "the run and the old path scored different frames"
    for name, tolerance in TOLERANCE.items():
        new, old = records[f"metric:{name}"].to_numpy(), old_values[name].to_numpy(np.float32)
        gap = float(np.abs(new.astype(np.float64) - old).max())
        same = int((new == old).sum())
        print(f"{name}: max |new - old| {gap:.3g} (tolerance {tolerance:g}); {same}/{len(new)} bit for bit")
        assert gap <= tolerance, f"{name} moved by {gap:.3g}, more than the stated {tolerance:g}"


if __name__ == "__main__":
    main()
