"""Cost of the temporal metrics (issue 16) on the CPU, ms per frame, standalone and with landmarks shared.

    python -m benchmarks.temporal_bench [--frames 48] [--threads 2] [--cache-only]

Frames are real (data/clips, 256x256, decoded by `qa_harness.video.io`); the "model output" is the ground
truth with a 1 px per-frame jitter. *Standalone*: a fresh landmark analysis per metric, so the time includes
the detector on output and ground truth (no cache). *Shared*: the landmarks of those very tensors were
already computed by another face metric in the same batch (the runner's case when akd or ear_mar also
runs), so only the metric's own arithmetic (and, for warp_error, its optical flow) is left. Wall and CPU
time both, as the build machine is shared. Prints a Markdown table for benchmarks/RESULTS.md.

Then warp_error cold vs warm in the same run: a fresh ground-truth flow cache folder (cold: flows computed
and written), then fresh objects over it (warm: a second run's case); asserts the warm run computed no
ground-truth flow and gave the cold values bit for bit, and prints the ms/frame ratio (`--cache-only`: just
this part).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from qa_harness.catalog import LANDMARKS
from qa_harness.metrics import temporal
from qa_harness.metrics._face_analysis import FaceAnalysis
from qa_harness.metrics.base import FrameBatch
from qa_harness.records import Clip, Pair
from qa_harness.video.io import iter_frames

CPU = torch.device("cpu")
CLIPS = Path(__file__).resolve().parent.parent / "data" / "clips"
BATCH = 16
BUILDS = {
    "landmark_jitter": lambda lm: temporal.LandmarkJitter(lm, reference="target"),
    "flicker": lambda lm: temporal.Flicker(lm, reference="target"),
    "warp_error": lambda lm: temporal.WarpError(),
    "xfer_landmark_jitter": lambda lm: temporal.LandmarkJitter(lm, reference="driving"),
    "output_flicker": lambda lm: temporal.Flicker(lm, reference="none"),
}


def batches(name: str, n: int) -> list[FrameBatch]:
    target = torch.cat(list(iter_frames(CLIPS / f"{name}.mp4", resolution=256, chunk=64, max_frames=n)))
    rng = np.random.default_rng(0)
    output = torch.stack([torch.roll(f, tuple(int(v) for v in rng.integers(-1, 2, 2)), dims=(1, 2)) for f in target])
    clip = Clip(id=name, path=CLIPS / f"{name}.mp4", fps=25.0, frame_count=n, size=(256, 256))
    pair = Pair(id=name, source=clip, driving=clip, protocol="reconstruction")
    return [
        FrameBatch(
            pair=pair,
            frames=torch.arange(s, min(s + BATCH, n)),
            output=output[s : s + BATCH],
            driving=target[s : s + BATCH],
            source=target[0],
            target=target[s : s + BATCH],
        )
        for s in range(0, n, BATCH)
    ]


def timed(metric, work: list[FrameBatch]) -> tuple[float, float]:
    """ms per frame, wall and CPU."""
    frames = sum(len(b.frames) for b in work)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in work:
        metric.frame_values(batch)
    return 1000 * (time.perf_counter() - wall) / frames, 1000 * (time.process_time() - cpu) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-only", action="store_true", help="only warp_error cold vs warm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = batches("d12", args.frames) + batches("tpsmm_driving", args.frames)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(work) * BATCH} frames, 256x256, batches of {BATCH}")
    if not args.cache_only:
        table(work)
    warp_cache(work)


def warp_cache(work: list[FrameBatch]) -> None:
    """warp_error with the ground-truth flow cache cold, then warm; asserts zero warm flows and equal values."""

    def run(folder: str) -> tuple[tuple[float, float], list[np.ndarray], int]:
        metric = temporal.WarpError(temporal.GroundTruthFlow(Path(folder), "bench"))
        values: list[np.ndarray] = []
        frames = sum(len(b.frames) for b in work)
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in work:
            values.append(metric.frame_values(batch)["warp_error"].numpy())
        cost = 1000 * (time.perf_counter() - wall) / frames, 1000 * (time.process_time() - cpu) / frames
        return cost, values, metric.flow.computed

    with tempfile.TemporaryDirectory() as folder:
        cold, cold_values, cold_flows = run(folder)
        warm, warm_values, warm_flows = run(folder)
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.npz"))
    assert warm_flows == 0, f"warm run computed {warm_flows} ground-truth flows"
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(cold_values, warm_values, strict=True))
    n = sum(len(b.frames) for b in work)
    print(
        f"\nwarp_error, ground-truth flow cache: cold {cold[0]:.1f} ({cold[1]:.1f}) ms/frame wall (CPU), "
        f"{cold_flows} frame pairs' flows computed; warm {warm[0]:.1f} ({warm[1]:.1f}), 0 computed, values "
        f"equal bit for bit; cold/warm {cold[0] / warm[0]:.1f}x wall ({cold[1] / warm[1]:.1f}x CPU); "
        f"cache {size / n / 1e6:.2f} MB/frame"
    )


def table(work: list[FrameBatch]) -> None:
    print("| metric | standalone ms/frame wall (CPU) | shared landmarks ms/frame wall (CPU) |")
    print("|---|---|---|")
    for name, build in BUILDS.items():
        lm = FaceAnalysis(LANDMARKS.build("mediapipe", device=CPU), cache_dir=None, suite_version="")
        alone = timed(build(lm), work)
        metric, wall, cpu = build(lm), 0.0, 0.0
        for batch in work:  # landmarks of these tensors computed first, as another face metric of the batch does
            lm(batch.output, suite_content=False), lm(batch.target, suite_content=True)
            w, c = timed(metric, [batch])
            wall, cpu = wall + w * len(batch.frames), cpu + c * len(batch.frames)
        n = sum(len(b.frames) for b in work)
        print(f"| `{name}` | {alone[0]:.1f} ({alone[1]:.1f}) | {wall / n:.1f} ({cpu / n:.1f}) |", flush=True)


if __name__ == "__main__":
    main()
