"""MRFA's cost per refinement iteration: time, convolution work and output change vs `iterations` (issue 8).

    python benchmarks/mrfa_iterations_bench.py [--config vox1] [--frames 2] [--device cpu] [--autocast bf16]

Builds the network from the official config with name-seeded random weights (cost does not depend on the
weight values; the official weights cannot be downloaded here), runs reconstruction of real frames of
`data/clips/d12.mp4` at the config's size for iterations = 0..6, and prints per setting: seconds per frame
(best of `--repeats`), convolution multiply-accumulates per frame (machine-independent), and the mean
absolute change of the output against the official setting (6). With `--autocast` it also prints the
deviation of that precision from float32 at 6 iterations. The load average is printed: the machine may be
shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_harness.reference_models.mrfa import SPEC  # noqa: E402
from qa_harness.reference_models.mrfa.raft import NUM_LEVELS  # noqa: E402
from qa_harness.reference_models.spec import build_reference  # noqa: E402
from tests.parity.common import clip_frames, conv_macs, seed_weights  # noqa: E402

AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="vox1")
    parser.add_argument("--frames", type=int, default=2, help="driving frames per call (batch)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", choices=sorted(AUTOCAST))
    args = parser.parse_args()
    device = torch.device(args.device)
    network = seed_weights(build_reference(SPEC, args.config)[0]).to(device)
    video = clip_frames(network.size, tuple(range(0, 12 * (args.frames + 1), 12))).to(device)
    source, driving = video[:1].expand(args.frames, -1, -1, -1), video[1:]
    print(f"MRFA {args.config}, {network.size}px, batch {args.frames}, {device}, load {os.getloadavg()[0]:.1f}")
    print("iterations  s/frame  conv GMAC/frame  mean |out - out(6)|")
    outputs, rows = {}, []
    with torch.inference_mode():
        for iterations in range(NUM_LEVELS + 1):
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                out, macs = conv_macs(network, lambda n=iterations: network(source, driving, iterations=n))
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            outputs[iterations] = out.prediction
            rows.append((iterations, best / args.frames, macs / args.frames / 1e9))
        for iterations, seconds, gmac in rows:
            change = (outputs[iterations] - outputs[NUM_LEVELS]).abs().mean().item()
            print(f"{iterations:10d}  {seconds:7.3f}  {gmac:15.2f}  {change:.2e}")
        if args.autocast:
            with torch.autocast(device.type, dtype=AUTOCAST[args.autocast]):
                low = network(source, driving).prediction.float()
            deviation = (low - outputs[NUM_LEVELS]).abs()
            print(
                f"{args.autocast} vs fp32 at 6 iterations: mean-abs {deviation.mean():.2e}, "
                f"max-abs {deviation.max():.2e}"
            )


if __name__ == "__main__":
    main()
