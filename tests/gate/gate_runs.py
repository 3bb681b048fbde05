"""Runs built from real per-frame metric computations on the repo's clips, for gate/compare/report tests.

A "good model" is simulated as the ground truth with a mild blur and seeded sensor noise (a
different seed = a clean re-run of the same model); regressions are injected on top of its output.
Each clip's first frames are split into segments, each segment one pair, so a condition has enough
clips for the per-clip bootstrap. Frames are decoded with PyAV at 128 px; metrics are qa_harness's
own l1/psnr/ssim (tested against scikit-image) and its eye/mouth region metrics (`face_regions`, on
MediaPipe landmarks of the ground truth), so frozen eyes or a frozen mouth can be injected and caught.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import av
import pandas as pd
import torch
import torch.nn.functional as F

from qa_harness.catalog import LANDMARKS, METRICS
from qa_harness.metrics._face_analysis import FaceAnalysis
from qa_harness.metrics._face_geometry import region_boxes
from qa_harness.metrics.base import UNSCORED, FrameBatch, MetricContext
from qa_harness.metrics.face_regions import FaceRegions
from qa_harness.metrics.l1 import l1
from qa_harness.metrics.psnr import psnr
from qa_harness.metrics.ssim import ssim
from qa_harness.runs.records import RunRecords
from qa_harness.thumbs import thumb_frames, write_region_thumbs, write_thumbs
from tests.helpers.face import paste_regions

CLIPS = Path(__file__).resolve().parents[2] / "data" / "clips"
RES, SEGMENTS, SEG_LEN = 128, 8, 4
#: Hand tags from data/SOURCES.md descriptions (pose of the head, occlusion of the face, light).
CLIP_TAGS = {
    "d12": {"pose": "moderate", "occlusion": "hand", "lighting": "normal"},
    "d20": {"pose": "frontal", "occlusion": "none", "lighting": "dim"},
    "lp_d11": {"pose": "frontal", "occlusion": "none", "lighting": "normal"},
    "lp_s32": {"pose": "extreme", "occlusion": "none", "lighting": "dim"},
    "tpsmm_driving": {"pose": "extreme", "occlusion": "none", "lighting": "normal"},
    "vrt_face5": {"pose": "frontal", "occlusion": "glasses", "lighting": "normal"},
}
SUITE, SUITE_VERSION = "repo-clips", "v-test-0001"
CPU = torch.device("cpu")
#: Which way is better, as the real metrics declare it (an evaluation run records this in summary.json).
DIRECTIONS = {
    c.name: c.higher_is_better
    for columns in [METRICS.build(name, MetricContext(CPU)).columns for name in ("l1", "psnr", "ssim")]
    + [FaceRegions.columns]
    for c in columns
}


@functools.cache
def landmarks() -> FaceAnalysis:
    """MediaPipe landmarks, memoised by frame content (the ground truth is analysed once per session)."""
    return FaceAnalysis(LANDMARKS.build("mediapipe", device=CPU), cache_dir=None, suite_version="")


def face_batch(output: torch.Tensor, truth: torch.Tensor) -> FrameBatch:
    return FrameBatch(
        pair=None, frames=torch.arange(len(truth)), output=output, driving=truth, source=truth[0], target=truth
    )


Degrade = Callable[[str, dict, torch.Tensor], torch.Tensor]


def decode(path: Path, frames: int) -> torch.Tensor:
    """First `frames` frames, scaled by swscale (area) so the short side is RES, centre-cropped square:
    (N, 3, RES, RES) float in [0, 1]."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scale = RES / min(stream.width, stream.height)
        width, height = max(RES, round(stream.width * scale)), max(RES, round(stream.height * scale))
        top, left = (height - RES) // 2, (width - RES) // 2
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
            out.append(torch.from_numpy(rgb[top : top + RES, left : left + RES].copy()))
            if len(out) == frames:
                break
    return torch.stack(out).permute(0, 3, 1, 2).float() / 255.0


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)


def shift(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """Content moved right and down by `pixels` (edge replicated)."""
    padded = F.pad(x, (pixels, 0, pixels, 0), mode="replicate")
    return padded[..., : x.shape[-2], : x.shape[-1]]


def colour_shift(x: torch.Tensor, amount: float) -> torch.Tensor:
    return (x + torch.tensor([amount, 0.0, -amount]).view(1, 3, 1, 1)).clamp(0, 1)


def freeze(x: torch.Tensor, region: str) -> torch.Tensor:
    """Eyes (or mouth) of each segment's first frame pasted into the segment's other frames: a model
    that does not move them. Boxes from the landmarks of `x` itself."""
    out = x.clone()
    boxes = region_boxes(landmarks()(x, suite_content=True).points, region)
    for start in range(0, len(x), SEG_LEN):
        seg = slice(start, start + SEG_LEN)
        out[seg] = paste_regions(x[seg], x[start : start + 1], [box[seg] for box in boxes])
    return out


def flicker(x: torch.Tensor, amount: float) -> torch.Tensor:
    """Brightness alternating frame to frame by +-amount."""
    sign = torch.tensor([1.0 if i % 2 else -1.0 for i in range(len(x))]).view(-1, 1, 1, 1)
    return (x * (1 + amount * sign)).clamp(0, 1)


REGRESSIONS: dict[str, Degrade] = {
    "blur": lambda pair, tags, x: blur(x, 1.2),
    "colour_shift": lambda pair, tags, x: colour_shift(x, 0.04),
    "shift_2px": lambda pair, tags, x: shift(x, 2),
    "flicker": lambda pair, tags, x: flicker(x, 0.06),
    "extreme_pose_only": lambda pair, tags, x: blur(x, 1.5) if tags["pose"] == "extreme" else x,
    "frozen_eyes": lambda pair, tags, x: freeze(x, "eye"),
    "frozen_mouth": lambda pair, tags, x: freeze(x, "mouth"),
}


def make_run(
    truth: dict[str, torch.Tensor],
    *,
    run_id: str,
    seed: int,
    degrade: Degrade | None = None,
    fail: tuple[str, ...] = (),
    thumbs: Path | None = None,
    rename: dict[str, str] | None = None,
) -> RunRecords:
    """Records of one simulated run: per-frame l1/psnr/ssim of (good output [+ regression]) vs truth.

    Outputs and metrics are computed per clip (all its segments at once); records are per segment."""
    gen = torch.Generator().manual_seed(seed)
    rows, clip_rows = [], []
    for clip, frames in truth.items():
        output = (blur(frames, 0.5) + torch.randn(frames.shape, generator=gen) * 0.005).clamp(0, 1)
        if degrade is not None:
            output = degrade(clip, CLIP_TAGS[clip], output)
        values = {"l1": l1(output, frames), "psnr": psnr(output, frames), "ssim": ssim(output, frames)}
        regions = FaceRegions(landmarks())
        values.update(regions.frame_values(face_batch(output, frames)))
        values.pop(UNSCORED)  # reason codes of unscored frames: counted by the runner, not a metric column
        boxes = regions.region_boxes(face_batch(output, frames))
        for s in range(SEGMENTS):
            pair_id = (rename or {}).get(f"{clip}#{s}", f"{clip}#{s}")
            if pair_id in fail:
                clip_rows.append(
                    {
                        "pair_id": pair_id,
                        "status": "failed",
                        "frames": 0,
                        "seconds": 0.1,
                        "error": "simulated: NaN in model output",
                    }
                )
                continue
            segment = range(s * SEG_LEN, (s + 1) * SEG_LEN)
            if thumbs is not None:  # as the runner does: a few frames per pair, see qa_harness.thumbs
                for i in thumb_frames(SEG_LEN, k=3):
                    f = segment[i]
                    write_thumbs(thumbs, pair_id, f, source=frames[segment[0]], target=frames[f], output=output[f])
                    write_region_thumbs(
                        thumbs,
                        pair_id,
                        f,
                        {k: v[f].tolist() for k, v in boxes.items()},
                        target=frames[f],
                        output=output[f],
                    )
            for f in segment:
                row = {
                    "run_id": run_id,
                    "suite": SUITE,
                    "suite_version": SUITE_VERSION,
                    "pair_id": pair_id,
                    "protocol": "reconstruction",
                    "frame": f,
                }
                row.update({f"metric:{k}": float(v[f]) for k, v in values.items()})
                row.update({f"cond:{k}": v for k, v in CLIP_TAGS[clip].items()})
                rows.append(row)
            clip_rows.append({"pair_id": pair_id, "status": "ok", "frames": SEG_LEN, "seconds": 0.5, "error": ""})
    frames_table = pd.DataFrame(rows)
    return RunRecords(
        run_id=run_id,
        name=run_id,
        suite=SUITE,
        suite_version=SUITE_VERSION,
        frames=frames_table,
        clips=pd.DataFrame(clip_rows),
        params={"model": "simulated", "seed": str(seed)},
        higher_is_better=DIRECTIONS,
    )


def log_run(tracking_uri: str, run: RunRecords, folder: Path, *, fps: float = 50.0, rss_mb: float = 900.0) -> str:
    """Log `run` as qa-harness evaluate does (params, aggregate metrics, records/*.parquet); new run id."""
    from mlflow.tracking import MlflowClient

    from qa_harness import tracking
    from qa_harness.runs.meta import RunSummary
    from qa_harness.runs.table import condition_table

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("qa_harness")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("qa_harness")
    mlrun = client.create_run(experiment_id, run_name=run.name, tags={"qa_harness.kind": "evaluation"})
    run_id = mlrun.info.run_id
    params = {
        "model": run.params.get("model", "simulated"),
        "checkpoint_sha256": "",
        "suite": run.suite,
        "suite_version": run.suite_version,
        "harness_version": "0.1.0",
        "device": "cpu",
        "seed": run.params.get("seed", "0"),
        "batch_size": "16",
    }
    for key, value in params.items():
        client.log_param(run_id, key, value)
    folder.mkdir(parents=True, exist_ok=True)
    frames = run.frames.assign(run_id=run_id)
    frames.to_parquet(folder / "frames.parquet", index=False)
    run.clips.to_parquet(folder / "clips.parquet", index=False)
    failed = int((run.clips["status"] != "ok").sum())
    summary = RunSummary(
        run_id=run_id,
        counts={"clips/total": len(run.clips), "clips/failed": failed, "frames/total": len(frames)},
        perf={"frames_per_second": fps, "peak_rss_mb": rss_mb, "peak_gpu_mb": None},
        higher_is_better=dict(run.higher_is_better),
    )
    summary.save(folder / "summary.json")
    tracking.finish_run(
        tracking_uri=tracking_uri,
        run_id=run_id,
        table=condition_table(dataclasses.replace(run, frames=frames)),
        summary=summary,
        files=[
            ("records", folder / "frames.parquet"),
            ("records", folder / "clips.parquet"),
            ("", folder / "summary.json"),
        ],
    )
    return run_id
