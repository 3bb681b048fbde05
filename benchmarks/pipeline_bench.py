"""Harness vs model-only, for a model faster than the metrics: the metric workers of issue 18, item 3.

    python -m benchmarks.pipeline_bench [--max-frames 40] [--batch-size 16] [--fraction 0.6] [--memory]

The model is `waiting` (below): the `identity` output after a fixed wait per batch. `time.sleep` frees the
CPU as a GPU model does, so the CPU is the metrics' while the "accelerator" works. The wait is calibrated
in the same run: a warm serial `evaluate` of `identity` gives the harness's time per batch, and the model
waits `--fraction` of it, so the model alone is faster than the serial metrics. Whole `evaluate` calls
(runner, decode prefetch, records, MLflow sqlite) with `catalog.DEFAULT_METRICS` (l1, psnr, ssim, lpips)
on the demo suite's reconstruction pairs, the LPIPS ground-truth cache warm. Prints model-only frames/s
(the waits alone), the serial harness, the harness with 1 and 2 metric workers (`--metric-workers`), each
one's ratio to model-only (target >= 0.85x), and asserts that every record is equal bit for bit.
`--memory`: peak RSS (the driving process and each metric worker) on one clip of 150 vs 1500 frames.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

from benchmarks.evaluate_bench import REPO, recon_only_suite
from qa_harness.catalog import DEFAULT_METRICS
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.models.base import Animator
from qa_harness.models.baselines import IdentityAnimator

MODEL = "benchmarks.pipeline_bench:waiting"


class WaitingAnimator(IdentityAnimator):
    """`identity` after `wait` seconds per batch: a model that is only accelerator time."""

    def __init__(self, wait: float) -> None:
        self.wait = wait

    def animate(self, state: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
        time.sleep(self.wait)
        return super().animate(state, driving)


def waiting(
    *, checkpoint: Path | None = None, device: torch.device | None = None, wait: float = 0.0, **_: Any
) -> Animator:
    return WaitingAnimator(float(wait))


def run(suite: Path, tmp: Path, batch: int, wait: float, workers: int) -> tuple[float, float, pd.DataFrame]:
    """(pair-loop frames/s, whole-call frames/s, frame records) of one `evaluate` call."""
    start = time.perf_counter()
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model=MODEL,
            model_options={"wait": wait},
            batch_size=batch,
            out_dir=tmp / f"run-{time.monotonic_ns()}",
            progress=False,
            tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
            metrics=DEFAULT_METRICS,
            metric_workers=workers,
        )
    )
    whole = time.perf_counter() - start
    assert not result.failed and not result.summary.metric_errors, (result.failed, result.summary.metric_errors)
    frames = pd.read_parquet(result.records_path).drop(columns="run_id")
    return result.frames_per_second, len(frames) / whole, frames


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    suite = recon_only_suite(tmp, args.max_frames)
    manifest = yaml.safe_load(suite.read_text())  # the LPIPS ground-truth cache is opt-in (its disk size)
    manifest["metric_options"] = {"lpips": {"cache_reference": "auto"}}
    suite.write_text(yaml.safe_dump(manifest))
    run(suite, tmp, args.batch_size, 0.0, 0)  # cold: the ground-truth caches filled
    run(suite, tmp, args.batch_size, 0.0, 2)  # the fork server started (once per process)
    load = os.getloadavg()[0]
    loop, _, frames = run(suite, tmp, args.batch_size, 0.0, 0)
    free = run(suite, tmp, args.batch_size, 0.0, 2)[0]  # no wait (`identity`): the metrics alone, 2 workers
    batches = sum(math.ceil(n / args.batch_size) for n in frames.groupby("pair_id").size())
    per_batch = len(frames) / loop / batches  # the serial harness's seconds per batch
    wait = args.fraction * per_batch
    model_only = len(frames) / (batches * wait)
    rows, records = [], {}
    for name, workers in (("serial (in process)", 0), ("1 metric worker", 1), ("2 metric workers", 2)):
        loop, whole, records[workers] = run(suite, tmp, args.batch_size, wait, workers)
        rows.append((name, loop, whole))
    load = max(load, os.getloadavg()[0])
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}"
    )
    print(
        f"`waiting` model, {', '.join(DEFAULT_METRICS)}, batch {args.batch_size}, {len(frames)} frames at 256 px "
        f"in {batches} batches; serial harness {per_batch * 1000:.0f} ms per batch, wait {wait * 1000:.0f} ms "
        f"({args.fraction:g}x)"
    )
    print("| path | frames/s, pair loop | ratio to model-only | frames/s, whole call | ratio |")
    print("|---|---|---|---|---|")
    print(f"| model only (the waits alone) | {model_only:.1f} | 1 | | |")
    for name, loop, whole in rows:
        print(f"| {name} | {loop:.1f} | {loop / model_only:.2f}x | {whole:.1f} | {whole / model_only:.2f}x |")
    print(f"no wait (identity), frames/s: serial {len(frames) / (per_batch * batches):.1f}, 2 workers {free:.1f}")
    for workers in (1, 2):
        pd.testing.assert_frame_equal(records[workers], records[0], check_exact=True)
    print(f"records: {len(frames)} frames x {frames.shape[1]} columns equal bit for bit, serial vs 1 and 2 workers")


_MEMORY = """
import json, os, resource, sys, threading, time
from pathlib import Path
from qa_harness.evaluate import EvalConfig, run_evaluation

peaks = {}  # pid -> (parent pid, VmHWM kB): sampled, since the metric workers are the fork server's children
def watch():
    while True:
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
                peaks[int(status.parent.name)] = (int(fields["PPid"]), int(fields.get("VmHWM", "0 kB").split()[0]))
            except (OSError, KeyError, ValueError):
                continue
        time.sleep(0.1)
threading.Thread(target=watch, daemon=True).start()
run_evaluation(EvalConfig(suite=Path(sys.argv[1]), model="identity", out_dir=Path(sys.argv[2]), overwrite=True,
    progress=False, tracking_uri=sys.argv[3], metrics=("l1", "psnr", "ssim", "lpips"), metric_workers=int(sys.argv[4])))
below = {os.getpid()}
for _ in range(3):
    below |= {pid for pid, (ppid, _) in peaks.items() if ppid in below}
below.discard(os.getpid())
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps([own, max((peaks[pid][1] / 1024 for pid in below), default=0.0)]))
"""


def peak_rss(tmp: Path, frames: int, workers: int) -> tuple[float, float]:
    """(driving process, largest process below it: a metric worker) peak RSS in MB of a fresh `evaluate`
    (`identity`, the default metric set, no LPIPS cache) on one clip of `frames` frames."""
    from tests.helpers.media import CLIPS, decode, write_mp4

    base = decode(CLIPS / "d20.mp4", 175)
    clip = write_mp4(tmp / f"long{frames}.mp4", [base[i % len(base)] for i in range(frames)])
    suite = tmp / f"mem{frames}.yaml"
    manifest = {
        "name": f"mem{frames}",
        "data_root": str(tmp),
        "resolution": 256,
        "clips": [{"id": "c", "path": clip.name}],
    }
    suite.write_text(yaml.safe_dump(manifest))
    args = [str(suite), str(tmp / f"memrun{frames}-{workers}"), f"sqlite:///{tmp / 'mem.db'}", str(workers)]
    out = subprocess.run([sys.executable, "-c", _MEMORY, *args], capture_output=True, text=True, cwd=REPO, check=True)
    own, worker = json.loads(out.stdout.strip().splitlines()[-1])
    return own, worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--fraction", type=float, default=0.6, help="the wait per batch / serial harness time")
    parser.add_argument("--memory", action="store_true", help="peak RSS, 150 vs 1500 frames, 2 workers")
    args = parser.parse_args()
    os.environ.pop("QA_HARNESS_CACHE", None)  # the cache beside the temporary suite, cold at first
    with tempfile.TemporaryDirectory() as folder:
        if args.memory:
            for frames in (150, 1500):
                own, worker = peak_rss(Path(folder), frames, 2)
                print(
                    f"peak RSS, {frames} frames, 2 metric workers: driving process {own:.0f} MB, worker {worker:.0f} MB"
                )
            return
        throughput(args, Path(folder))


if __name__ == "__main__":
    main()
