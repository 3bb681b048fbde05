"""Batched qa_harness metrics (SSIM + LPIPS) vs a per-frame loop of scikit-image SSIM + the `lpips` package.

Run: `python benchmarks/metrics_bench.py [--frames 64] [--size 256] [--batch 32]`. Both sides score the
same real frame pairs (consecutive frames of the repo's clips, center-cropped and resized): the
baseline calls `skimage.metrics.structural_similarity` and `lpips.LPIPS(net='alex')` once per frame,
as a typical evaluation script does; qa_harness scores batches through `metrics.ssim.ssim` and the
`lpips` metric. The ImageNet AlexNet file is absent here, so both use the same seeded random backbone,
written to a temporary folder (speed does not depend on the weight values). Prints frames/s of each
side per metric and for both, the ratios (issue 3 target: >= 5x on CPU), the largest difference
between their values, and the load average (the machine may be shared: see `rounds`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # qa_harness and tests.helpers from this checkout

from skimage.metrics import structural_similarity  # noqa: E402

from qa_harness.video.io import iter_frames  # noqa: E402
from tests.helpers.media import CLIPS  # noqa: E402
from tests.helpers.torchvision_bypass import import_lpips, torchvision_models  # noqa: E402

CLIP_NAMES = ("d12.mp4", "lp_d11.mp4", "vrt_face5.mp4", "d20.mp4")


def frame_pairs(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` pairs (frame i+1, frame i) spread over the clips: a reconstruction-like workload."""
    per_clip = -(-count // len(CLIP_NAMES))
    outputs, targets = [], []
    for name in CLIP_NAMES:
        frames = next(iter_frames(CLIPS / name, resolution=size, chunk=per_clip + 1))
        outputs.append(frames[1:])
        targets.append(frames[:-1])
    return torch.cat(outputs)[:count], torch.cat(targets)[:count]


def rounds(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each run per round, after one warm-up round.

    Interleaved (every round times all runs back to back), so that on a shared machine the two sides
    of a ratio see about the same load; ratios are then taken round by round.
    """
    for run in runs.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="qa_harness batch size (the runner's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCH_HOME"] = tmp
        os.environ["QA_HARNESS_WEIGHTS"] = tmp
        backbone = Path(tmp) / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
        backbone.parent.mkdir(parents=True)
        torch.manual_seed(0)
        torch.save(torchvision_models().alexnet().state_dict(), backbone)

        from qa_harness.catalog import METRICS
        from qa_harness.metrics.base import MetricContext
        from qa_harness.metrics.ssim import ssim

        lpips_metric = METRICS.build("lpips", MetricContext(device=torch.device("cpu")))
        reference = import_lpips().LPIPS(net="alex", verbose=False)

    output, target = frame_pairs(args.frames, args.size)
    out_hwc = output.permute(0, 2, 3, 1).double().numpy()
    tgt_hwc = target.permute(0, 2, 3, 1).double().numpy()
    values: dict[str, torch.Tensor] = {}

    def batched(name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            chunks = zip(output.split(args.batch), target.split(args.batch), strict=True)
            values[name] = torch.cat([fn(o, t) for o, t in chunks]).double()

        return run

    def per_frame(name: str, fn: Callable[[int], float]) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                values[name] = torch.tensor([fn(i) for i in range(len(output))], dtype=torch.float64)

        return run

    def skimage_ssim(i: int) -> float:
        return structural_similarity(
            out_hwc[i], tgt_hwc[i], data_range=1.0, channel_axis=-1,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )  # fmt: skip

    def lpips_package(i: int) -> float:
        return float(reference(output[i : i + 1] * 2 - 1, target[i : i + 1] * 2 - 1))

    seconds = rounds(
        {
            "ours ssim": batched("ours ssim", ssim),
            "ours lpips": batched("ours lpips", lpips_metric.distance),
            "loop ssim": per_frame("loop ssim", skimage_ssim),
            "loop lpips": per_frame("loop lpips", lpips_package),
        },
        args.repeats,
    )
    for side in ("ours", "loop"):
        ssim_s, lpips_s = seconds[f"{side} ssim"], seconds[f"{side} lpips"]
        seconds[f"{side} both"] = [a + b for a, b in zip(ssim_s, lpips_s, strict=True)]
    n = len(output)
    threads, load = torch.get_num_threads(), os.getloadavg()[0]
    print(f"{n} frame pairs at {args.size}x{args.size}, cpu, torch threads {threads}, load {load:.1f}")
    print(f"medians of {args.repeats} interleaved rounds; ratio range over rounds in brackets")
    print(f"{'metric':<7}{'qa_harness batched':>20}{'per-frame loop':>16}{'ratio':>8}{'range':>16}{'max |diff|':>12}")
    for metric in ("ssim", "lpips", "both"):
        ours, loop = seconds[f"ours {metric}"], seconds[f"loop {metric}"]
        ratios = [b / a for a, b in zip(ours, loop, strict=True)]
        diff = (
            f"{float((values[f'ours {metric}'] - values[f'loop {metric}']).abs().max()):.1e}"
            if metric != "both"
            else "(target >= 5x)"
        )
        print(
            f"{metric:<7}{n / median(ours):>14.1f} fr/s{n / median(loop):>11.1f} fr/s{median(ratios):>7.2f}x"
            f"{f'[{min(ratios):.2f}-{max(ratios):.2f}x]':>16}{diff:>15}"
        )


if __name__ == "__main__":
    main()
