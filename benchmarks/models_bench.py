"""Frames/s and peak memory of the reference models at their official size, as the runner calls them (issue 8).

Each model runs in a fresh subprocess (so peak memory is its own): the official vox config, random weights
saved in the official checkpoint layout (the published weights cannot be downloaded here; speed does not
depend on the values), real frames of `data/clips/d12.mp4`, `animate` on batches of driving frames after one
warm-up batch. With `--autocast`, the max-abs deviation of the autocast output from float32 on the same
frames is reported too (random weights exaggerate it; see tests/test_reference_checkpoints.py).

    python benchmarks/models_bench.py [--models fomm tpsmm mraa] [--device cpu|cuda] [--batch 4] [--frames 8]
        [--autocast bf16|fp16]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa_harness.catalog import MODELS  # noqa: E402
from qa_harness.video.io import iter_frames  # noqa: E402


def measure(model: str, device: str, batch: int, frames: int, autocast: str | None) -> dict:
    """One model in this process: build from a random official-layout checkpoint, time `animate`."""
    spec = __import__(f"qa_harness.reference_models.{model}", fromlist=["SPEC"]).SPEC
    from qa_harness.reference_models.spec import build_reference

    network, config = build_reference(spec)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "random.pth"
        torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()}, checkpoint)
        del network
        animator = MODELS.build(model, checkpoint=checkpoint, device=device)
        fast = MODELS.build(model, checkpoint=checkpoint, device=device, autocast=autocast) if autocast else None
    clip = next(iter_frames(REPO / "data" / "clips" / "d12.mp4", resolution=animator.resolution, chunk=frames + 1))
    source, driving = clip[0], clip[1 : frames + 1]
    state = animator.prepare(source)
    animator.animate(state, driving[:batch])  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    outputs = [animator.animate(state, driving[i : i + batch]) for i in range(0, frames, batch)]
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "model": model,
        "config": config.stem,
        "resolution": animator.resolution,
        "device": device,
        "batch": batch,
        "frames": frames,
        "frames_per_s": frames / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if device == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if fast is not None:
        fast_state = fast.prepare(source)
        start = time.perf_counter()
        fast_out = [fast.animate(fast_state, driving[i : i + batch]) for i in range(0, frames, batch)]
        if device == "cuda":
            torch.cuda.synchronize()
        result[f"{autocast}_frames_per_s"] = frames / (time.perf_counter() - start)
        deviation = (torch.cat(fast_out) - torch.cat(outputs)).abs()
        result[f"{autocast}_mean_abs_dev"] = deviation.mean().item()
        result[f"{autocast}_max_abs_dev"] = deviation.max().item()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fomm", "tpsmm", "mraa"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--autocast", choices=["bf16", "fp16"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.device, args.batch, args.frames, args.autocast)))
        return 0
    rows = []
    for model in args.models:
        command = [
            sys.executable,
            __file__,
            "--worker",
            model,
            "--device",
            args.device,
            "--batch",
            str(args.batch),
            "--frames",
            str(args.frames),
        ] + (["--autocast", args.autocast] if args.autocast else [])
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    machine = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'CPU'}"
    print(f"machine: {machine}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
