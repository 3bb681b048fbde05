"""dlib's face descriptor vs its torch port, and `aed` before/after the port (issue 18 item 2).

    python -m benchmarks.dlib_port_bench [--max-frames 40] [--batch-size 16] [--device cpu]

1. Descriptors: faces of the six demo clips (HOG box, 5-point shape, once), then per face in batches of 1
   and 16, measured in this run: dlib's `compute_face_descriptor` (chip + ResNet, C++, CPU) and the port
   (`dlib.get_face_chip` + `DlibFaceNet` on `--device`), wall and CPU ms per face; the port's network alone
   too. Asserts max |port - dlib| <= 1e-4 per component.
2. Whole `evaluate` calls of the `identity` model (only the harness is timed) on the demo suite's
   reconstruction pairs (6 clips x `--max-frames` at 256 px), ground-truth caches warm (a cold run of each
   configuration first; asserts the timed runs wrote no cache file): `aed` alone and the demo's face set,
   *before* (`metric_options: {aed: {identity: dlib_native}}`, dlib's own ResNet, the path up to this
   change) and *after* (the default: the port). Asserts AED per frame within 1e-4 of before.
Prints Markdown for benchmarks/RESULTS.md.
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

from benchmarks.evaluate_bench import recon_only_suite
from benchmarks.shared_face_bench import DEMO_FACE, cache_files, evaluate, with_options
from qa_harness.catalog import IDENTITY
from qa_harness.landmarks.base import to_uint8_images
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS

SETS = {"aed alone": ("aed",), "demo set (pixel + akd + aed + face_regions + ear_mar)": DEMO_FACE}
BEFORE = {"aed": {"identity": "dlib_native"}}
TOLERANCE = 1e-4


def faces(per_clip: int) -> tuple[list[np.ndarray], list]:
    """`per_clip` frames (every 5th) of each demo clip at 256 px with a HOG face, and their 5-point shapes."""
    finder = IDENTITY.build("dlib_native", device=torch.device("cpu"))
    images = []
    for clip in sorted(CLIPS.glob("*.mp4")):
        frames = torch.cat(list(iter_frames(clip, resolution=256, chunk=64, max_frames=5 * per_clip)))[::5]
        images.extend(to_uint8_images(frames))
    hits, shapes = finder.face_shapes(np.stack(images), None)
    return [images[i] for i in hits], shapes


def per_face(fn, items: list, batch: int) -> tuple[float, float]:
    """(wall, CPU) ms per item of `fn` over `items` in chunks of `batch`, after one warm-up chunk."""
    fn(items[:batch])
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), batch):
        fn(items[i : i + batch])
    return 1000 * (time.perf_counter() - start) / len(items), 1000 * (time.process_time() - cpu) / len(items)


def descriptor_bench(device: torch.device) -> None:
    import dlib

    images, shapes = faces(8)
    native = IDENTITY.build("dlib_native", device=torch.device("cpu"))
    port = IDENTITY.build("dlib", device=device)
    pairs = list(zip(images, shapes, strict=True))
    gap = np.abs(native.descriptors(images, shapes) - port.descriptors(images, shapes)).max()
    print(f"{len(images)} faces of the demo clips; port vs dlib max |diff| {gap:.2e} (tolerance {TOLERANCE})")
    assert gap <= TOLERANCE, "the port's descriptors moved from dlib's"
    chips = torch.from_numpy(np.stack([dlib.get_face_chip(im, sh, size=150, padding=0.25) for im, sh in pairs]))

    def net_only(batch: list) -> None:
        with torch.inference_mode():
            port._net(torch.stack(batch).to(device).permute(0, 3, 1, 2)).cpu()

    threads = torch.get_num_threads()
    print(f"\nload average {os.getloadavg()[0]:.1f}, port on {device}; ms per face, wall (CPU)")
    print(f"| batch | dlib compute_face_descriptor | port: chip + net, {threads} torch threads | port: net alone |"
          " port: chip + net, 1 torch thread | dlib / port (wall) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for batch in (1, 16):
        ref = per_face(lambda b: native.descriptors(*zip(*b, strict=True)), pairs, batch)
        new = per_face(lambda b: port.descriptors(*zip(*b, strict=True)), pairs, batch)
        net = per_face(net_only, list(chips), batch)
        torch.set_num_threads(1)
        one = per_face(lambda b: port.descriptors(*zip(*b, strict=True)), pairs, batch)
        torch.set_num_threads(threads)
        cells = " | ".join(f"{w:.1f} ({c:.1f})" for w, c in (ref, new, net, one))
        print(f"| {batch} | {cells} | {ref[0] / new[0]:.2f}x |", flush=True)


def frame_aed(run: Path) -> pd.Series:
    frames = pd.read_parquet(run / "frames.parquet")
    return frames.set_index(["pair_id", "frame"])["metric:aed"].sort_index()


def evaluate_bench(max_frames: int, batch: int) -> None:
    os.environ.pop("QA_HARNESS_CACHE", None)  # the cache beside the temporary suite, cold at first
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        after = recon_only_suite(tmp, max_frames)
        before = with_options(after, BEFORE, "native")
        for suite in (before, after):  # cold: fills the ground-truth caches of both configurations
            evaluate(suite, DEMO_FACE, tmp, batch)
        warm = cache_files(tmp)
        print(f"\nload average {os.getloadavg()[0]:.1f}; `identity` model, batch {batch}, warm caches")
        print("| metrics | frames/s, whole call (pair loop) | ms per frame | frames per CPU second |")
        print("|---|---|---|---|")
        speed, aed = {}, {}
        for label, metrics in SETS.items():
            for mode, suite in (("before", before), ("after", after)):
                loop, whole, per_cpu, run = evaluate(suite, metrics, tmp, batch)
                speed[label, mode], aed[label, mode] = (whole, per_cpu), frame_aed(run)
                print(
                    f"| {label}, {mode} | {whole:.1f} ({loop:.1f}) | {1000 / whole:.0f} | {per_cpu:.1f} |", flush=True
                )
        assert cache_files(tmp) == warm, "a warm run analysed ground truth (new cache files)"
    print("\nzero ground-truth analysis in the timed runs (no cache file written)")
    for label in SETS:
        (wall_a, cpu_a), (wall_b, cpu_b) = speed[label, "after"], speed[label, "before"]
        print(f"{label}: after/before {wall_a / wall_b:.2f}x frames/s wall, {cpu_a / cpu_b:.2f}x per CPU second")
        b, a = aed[label, "before"], aed[label, "after"]
        assert b.index.equals(a.index) and b.isna().equals(a.isna()), "scored frames differ"
        gap = float((a - b).abs().max())
        print(f"  AED per frame, after - before: max |diff| {gap:.2e} over {int(b.notna().sum())} scored frames")
        assert gap <= TOLERANCE, f"AED moved more than {TOLERANCE} per frame"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="where the port runs in part 1 (cpu, cuda)")
    parser.add_argument("--skip-evaluate", action="store_true", help="part 1 only")
    args = parser.parse_args()
    descriptor_bench(torch.device(args.device))
    if not args.skip_evaluate:
        evaluate_bench(args.max_frames, args.batch_size)


if __name__ == "__main__":
    main()
