"""Batched qa_harness metrics (SSIM + LPIPS) vs a per-frame loop of scikit-image SSIM + the `lpips` package.

Run: `python benchmarks/metrics_bench.py [--frames 64] [--size 256] [--batch 32]`. Both sides score the
same real frame pairs (consecutive frames of the repo's clips, center-cropped and resized): the
baseline calls `skimage.metrics.structural_similarity` and `lpips.LPIPS(net='alex')` once per frame,
as a typical evaluation script does; qa_harness scores batches through `metrics.ssim.ssim` and the
`lpips` metric. The ImageNet AlexNet file is absent here, so both use the same seeded random backbone,
written to a temporary folder (speed does not depend on the weight values). Prints frames/s of each
side per metric and for both, the ratios (issue 3 target: >= 5x on CPU), the largest difference
between their values, and the load average (the machine may be shared: timings are best of `--repeats`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call (seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="qa_harness batch size (the runner's)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

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

        lpips_metric = METRICS.get("lpips")(MetricContext(device=torch.device("cpu")))
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

    seconds = {
        "ours ssim": best_time(batched("ours ssim", ssim), args.repeats),
        "ours lpips": best_time(batched("ours lpips", lpips_metric.distance), args.repeats),
        "loop ssim": best_time(per_frame("loop ssim", skimage_ssim), args.repeats),
        "loop lpips": best_time(per_frame("loop lpips", lpips_package), args.repeats),
    }
    n = len(output)
    threads, load = torch.get_num_threads(), os.getloadavg()[0]
    print(f"{n} frame pairs at {args.size}x{args.size}, cpu, torch threads {threads}, load {load:.1f}")
    print(f"{'metric':<8}{'qa_harness batched':>20}{'per-frame loop':>16}{'ratio':>8}{'max |diff|':>12}")
    for metric in ("ssim", "lpips"):
        ours, loop = seconds[f"ours {metric}"], seconds[f"loop {metric}"]
        diff = float((values[f"ours {metric}"] - values[f"loop {metric}"]).abs().max())
        print(f"{metric:<8}{n / ours:>14.1f} fr/s{n / loop:>11.1f} fr/s{loop / ours:>7.2f}x{diff:>12.1e}")
    ours = seconds["ours ssim"] + seconds["ours lpips"]
    loop = seconds["loop ssim"] + seconds["loop lpips"]
    print(f"{'both':<8}{n / ours:>14.1f} fr/s{n / loop:>11.1f} fr/s{loop / ours:>7.2f}x   (target >= 5x)")


if __name__ == "__main__":
    main()
