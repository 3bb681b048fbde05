"""Throughput of suite tagging and synthetic-suite generation on CPU, on the repository's real clips.

Run from the repository root: `python -m benchmarks.suite_bench [--frames 60] [--resolution 256]`.
Prints a Markdown table (frames/s) for benchmarks/RESULTS.md, section "Suites (issue 5)".
Tagging reads the clips at their own size (480x480 to 1280x720); synthesis writes PNG frames at
`--resolution`. Every stage is timed on the same frames, so the rows subtract: decoding, then face
boxes, then the landmark detector, then the axes' own arithmetic.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
import yaml

from qa_harness.suites.build import build_suite
from qa_harness.suites.curate import BuildSpec
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import iter_arrays
from qa_harness.suites.synthetic import SynthSpec, synthesize
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.video.io import probe

DATA = Path(__file__).resolve().parents[1] / "data"
CLIPS = sorted((DATA / "clips").glob("*.mp4"))


def _rate(frames: int, seconds: tuple[float, float]) -> str:
    """'wall | cpu' frames per second: on a shared machine the CPU figure is the steadier one."""
    return f"{frames / seconds[0]:.1f} | {frames / seconds[1]:.1f}"


def _timed(fn) -> tuple[int, tuple[float, float]]:
    """Frames `fn` handled and its (wall, process CPU) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    frames = fn()
    return frames, (time.perf_counter() - wall, time.process_time() - cpu)


def tagging_rows(max_frames: int) -> list[tuple[str, str, str]]:
    def decode() -> int:
        return sum(len(c) for clip in CLIPS for c in iter_arrays(clip, max_frames=max_frames))

    def boxes() -> int:
        total = 0
        for clip in CLIPS:
            for chunk in iter_arrays(clip, max_frames=max_frames):
                detect_faces(chunk)
                total += len(chunk)
        return total

    def tag(names: list[str]):
        tagger = Tagger(build_axes(names))
        return lambda: sum(
            len(tagger.tag_clip(c, max_frames=max_frames).frame_labels[tagger.axes[0].tags[0]]) for c in CLIPS
        )

    rows = []
    for label, fn in [
        ("decode only", decode),
        ("decode + face boxes (MediaPipe BlazeFace)", boxes),
        ("tag lighting", tag(["lighting"])),
        ("tag pose (+ 68 landmarks, MediaPipe Face Mesh)", tag(["pose"])),
        ("tag lighting + pose + occlusion (+ hands)", tag(["lighting", "pose", "occlusion"])),
    ]:
        frames, seconds = _timed(fn)
        rows.append((label, f"{frames} frames of {len(CLIPS)} clips", _rate(frames, seconds)))
    return rows


def synthesis_rows(max_frames: int, resolution: int) -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = [{"id": c.stem, "path": f"clips/{c.name}"} for c in CLIPS[:2]]
        source = folder / "source.yaml"
        source.write_text(yaml.safe_dump({"name": "bench", "data_root": str(DATA), "clips": clips}))
        for axis in ("lighting", "occlusion", "geometry", "compression"):
            spec = SynthSpec(axis=axis, levels=3, resolution=resolution, max_frames=max_frames)

            def run(spec=spec) -> int:
                out = synthesize(source, spec, folder / f"synth_{spec.axis}.yaml")
                return sum(
                    len(list((out.with_suffix("") / c["path"]).glob("*.png")))
                    for c in yaml.safe_load(out.read_text())["clips"]
                )

            frames, seconds = _timed(run)
            rows.append(
                (f"synthesize {axis}, 3 levels", f"{frames} frames written at {resolution}²", _rate(frames, seconds))
            )
    return rows


def curation_rows() -> list[tuple[str, str, str]]:
    """`suites build` over two whole clips (297 frames), then again with nothing changed (cache)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "raw").mkdir()
        for name in ("d20", "vrt_face5"):
            (folder / "raw" / f"{name}.mp4").symlink_to(DATA / "clips" / f"{name}.mp4")
        frames = sum(probe(folder / "raw" / f"{n}.mp4").frame_count for n in ("d20", "vrt_face5"))
        spec = BuildSpec(max_len=100, stride=5, resolution=256)
        for label in (
            "suites build (check every 5th frame, cut, crop, write, tag 3 axes)",
            "suites build again, nothing changed (cache)",
        ):
            _, seconds = _timed(lambda: build_suite(folder / "raw", folder / "built.yaml", spec))
            rows.append((label, f"{frames} source frames of 2 clips", _rate(frames, seconds)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    parser.add_argument("--resolution", type=int, default=256, help="synthetic frame size (default 256)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    rows = tagging_rows(args.frames) + synthesis_rows(args.frames // 2, args.resolution) + curation_rows()
    cpus = os.cpu_count()
    print(
        f"CPU: {platform.machine()}, {cpus} cores, load average {os.getloadavg()[0]:.1f} at the end, "
        f"torch threads 1, Python {platform.python_version()}"
    )
    print("| stage | work | frames/s (wall) | frames per CPU-second |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
