"""Face-metric throughput: landmark and identity backends on the CPU, and evaluation with a cold vs warm cache.

    python -m benchmarks.face_bench [--frames 64] [--threads 2]

Frames are real (data/clips, 256x256, decoded by `qa_harness.video.io`). Backends whose weights are absent
are listed as unavailable. OpenFace is timed with randomly initialised weights (its speed does not depend on
the weight values). The cache part evaluates every reconstruction face metric (akd, face_regions, face_nme,
ear_mar, aed) on two clips, first with an empty cache folder, then with fresh analyses over the same folder
(as a second `evaluate` process would), and reports the ground-truth analysis time and backend calls of each.
Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from qa_harness.catalog import IDENTITY, LANDMARKS
from qa_harness.errors import WeightsUnavailableError
from qa_harness.identity import openface
from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.landmarks.base import LandmarkBackend, Landmarks
from qa_harness.metrics import aed, akd, ear_mar, face_nme, face_regions
from qa_harness.metrics._face_analysis import FaceAnalysis
from qa_harness.metrics.base import FrameBatch
from qa_harness.records import Clip, Pair
from qa_harness.video.io import iter_frames

CPU = torch.device("cpu")
CLIPS = Path(__file__).resolve().parent.parent / "data" / "clips"
BATCH = 16


def frames_of(name: str, n: int) -> torch.Tensor:
    return torch.cat(list(iter_frames(CLIPS / f"{name}.mp4", resolution=256, chunk=64, max_frames=n)))


def throughput(run, frames: torch.Tensor) -> str:
    """Frames per wall second and per CPU second of `run` over `frames` in batches of BATCH (after a warm-up).

    Both, because the build machine is shared: wall-clock speed depends on the other jobs, CPU-time speed
    much less (it sums this process's threads).
    """
    run(frames[:2])
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(frames), BATCH):
        run(frames[i : i + BATCH])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{len(frames) / wall:.1f} | {len(frames) / cpu:.1f}"


def backend_rows(frames: torch.Tensor) -> list[str]:
    rows = []
    for name in LANDMARKS.names():
        try:
            backend = LANDMARKS.build(name, device=CPU)
        except WeightsUnavailableError as err:
            rows.append(f"| landmarks | {name} | unavailable: {str(err).splitlines()[0][:70]}... | |")
            continue
        rows.append(f"| landmarks | {name} | {throughput(backend.detect, frames)} |")
    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp) / openface.WEIGHTS_FILE
        torch.save(openface.OpenFaceNN4Small2().state_dict(), made)
        for name in IDENTITY.names():
            backend = IDENTITY.build(name, device=CPU, weights=made if name == "openface" else None)
            note = " (random weights)" if name == "openface" else ""
            rows.append(f"| identity | {name}{note} | {throughput(backend.embed, frames)} |")
    return rows


class Timing:
    """Calls and seconds spent in a backend (mixed into the two wrappers below)."""

    calls: int = 0
    seconds: float = 0.0

    def timed(self, fn, frames: torch.Tensor):
        start = time.perf_counter()
        try:
            return fn(frames)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - start


class TimedLandmarks(Timing, LandmarkBackend):
    def __init__(self, inner: LandmarkBackend) -> None:
        self.inner, self.name, self.version = inner, inner.name, inner.version

    def detect(self, frames: torch.Tensor) -> Landmarks:
        return self.timed(self.inner.detect, frames)


class TimedIdentity(Timing, IdentityBackend):
    def __init__(self, inner: IdentityBackend) -> None:
        self.inner, self.name, self.version, self.dim = inner, inner.name, inner.version, inner.dim

    def embed(self, frames: torch.Tensor) -> Embeddings:
        return self.timed(self.inner.embed, frames)


def evaluate(cache: Path, clips: dict[str, torch.Tensor], landmarks, identity) -> dict[str, float]:
    """All reconstruction face metrics over the clips (output = ground truth mirrored, a stand-in model)."""
    timed = [TimedLandmarks(landmarks), TimedIdentity(identity)]
    lm, ident = (FaceAnalysis(b, cache_dir=cache, suite_version="bench") for b in timed)
    metrics = [akd.AKD(lm), face_regions.FaceRegions(lm), face_nme.FaceNME(lm)]
    metrics += [ear_mar.EarMar(lm, reference="target"), aed.IdentityDistance(ident, name="aed", reference="target")]
    start = time.perf_counter()
    gt_seconds = 0.0
    for name, frames in clips.items():
        clip = Clip(name, path=CLIPS / f"{name}.mp4", fps=25.0, frame_count=len(frames), size=(256, 256))
        pair = Pair(name, clip, clip, "reconstruction")
        for i in range(0, len(frames), BATCH):
            target = frames[i : i + BATCH]
            gt_start = time.perf_counter()
            lm(target, suite_content=True)
            ident(target, suite_content=True)
            gt_seconds += time.perf_counter() - gt_start
            batch = FrameBatch(pair, torch.arange(i, i + len(target)), target.flip(-1), target, frames[0], target)
            for metric in metrics:
                metric.frame_values(batch)
    total = time.perf_counter() - start
    calls = sum(b.calls for b in timed)
    return {"total": total, "gt": gt_seconds, "calls": calls, "frames": sum(len(f) for f in clips.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64, help="frames per clip")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = frames_of("tpsmm_driving", args.frames)
    print(f"| kind | backend | frames/s wall | frames per CPU-s ({args.threads} threads, 256x256, batch {BATCH}) |")
    print("|---|---|---|---|")
    print("\n".join(backend_rows(frames)))
    clips = {name: frames_of(name, args.frames) for name in ("tpsmm_driving", "vrt_face5")}
    landmarks, identity = LANDMARKS.build("mediapipe", device=CPU), IDENTITY.build("dlib", device=CPU)
    with tempfile.TemporaryDirectory() as cache:
        runs = {"cold": evaluate(Path(cache), clips, landmarks, identity)}
        runs["warm"] = evaluate(Path(cache), clips, landmarks, identity)
    print()
    print("| cache | frames | evaluation s | ground-truth analysis s | backend calls (GT + output) |")
    print("|---|---|---|---|---|")
    for name, r in runs.items():
        print(f"| {name} | {r['frames']} | {r['total']:.2f} | {r['gt']:.3f} | {r['calls']} |")


if __name__ == "__main__":
    main()
