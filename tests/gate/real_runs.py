"""Real evaluation runs for gate tests: suites built from shipped data and the
`tests.helpers.gate_models:good` plug-in model, evaluated by the real pipeline into MLflow.

`build_suite`: every clip of `suites/real.yaml` (measured clip tags), the first `FRAMES` frames at
`RES` px, with its measured per-frame tags (`suites/real.conditions.parquet`): single-clip
conditions (yaw=moderate, lighting=bright, ...), a condition of most frames of one clip
(lighting_side=left: 15 of d20's 16), conditions of 3 to 5 clips, some with part of a clip
(pitch=down: lp_d11, lp_s32 and 9 frames of d12). `shipped_gate_suite`: the shipped gating suite
`suites/gate.yaml` itself (optionally fewer frames per clip). `defect_blur`: the extra blur that costs
a given SSIM on the frames of one condition, so an injected regression has a known size.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.metrics.ssim import ssim
from qa_harness.records import COND_PREFIX
from qa_harness.runs.selectors import parse_selector
from qa_harness.suites.manifest import load_suite
from qa_harness.video.io import iter_frames
from tests.helpers.gate_models import blur

ROOT = Path(__file__).resolve().parents[2]
RES, FRAMES = 128, 16
MODEL = "tests.helpers.gate_models:good"
METRICS = ("l1", "psnr", "ssim")


def build_suite(folder: Path) -> Path:
    """The small suite (manifest + per-frame conditions sidecar) in `folder`; returns the manifest."""
    manifest = yaml.safe_load((ROOT / "suites" / "real.yaml").read_text())
    manifest.update(name="gate-small", data_root=str(ROOT / "data"), resolution=RES, max_frames=FRAMES)
    path = folder / "gate-small.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    tags = pd.read_parquet(ROOT / "suites" / "real.conditions.parquet")
    tags[tags["frame"] < FRAMES].to_parquet(folder / "gate-small.conditions.parquet", index=False)
    return path


def shipped_gate_suite(folder: Path, max_frames: int | None = None) -> Path:
    """`suites/gate.yaml` (its clips, tags and media), with at most `max_frames` frames per clip."""
    manifest = yaml.safe_load((ROOT / "suites" / "gate.yaml").read_text())
    manifest["data_root"] = str((ROOT / "suites" / manifest.get("data_root", ".")).resolve())
    if max_frames:
        manifest["max_frames"] = max_frames
    path = folder / "gate.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


@functools.lru_cache(maxsize=1)
def _decoded(suite_path: Path) -> list[tuple[torch.Tensor, pd.DataFrame]]:
    """Each pair's driving frames as the runner decodes them, with their `cond:` tags."""
    suite, out = load_suite(suite_path), []
    for pair in suite.pairs:
        clip = torch.cat(list(iter_frames(pair.driving.path, resolution=suite.resolution, crop=pair.driving.crop,
                                          chunk=64, max_frames=suite.max_frames)))  # fmt: skip
        tags = pd.DataFrame(
            [{COND_PREFIX + k: v for k, v in pair.frame_conditions(i).items()} for i in range(len(clip))]
        )
        out.append((clip, tags))
    return out


def defect_blur(
    suite_path: Path, where: str, target: float, *, base: float = 0.5, noise: float = 0.005, every: int = 3
) -> float:
    """The extra blur sigma that lowers the mean SSIM of the good model's output (blur `base`, noise `noise`,
    its defaults) on the frames of `suite_path` matching `where` by about `target` (every `every`-th
    frame; interpolated on a grid)."""
    selector = parse_selector(where).concrete
    truth = torch.cat([clip[selector.mask(tags).nonzero()[0][::every]] for clip, tags in _decoded(suite_path)])
    good = (blur(truth, base) + noise * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))).clamp(
        0, 1
    )
    reference = float(ssim(good, truth).mean())
    sigmas = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0])
    drops = np.array([reference - float(ssim(blur(good, s), truth).mean()) for s in sigmas])
    return float(np.interp(target, drops, sigmas))


def evaluate(suite: Path, tracking_uri: str, out: Path, *, seed: int, name: str, **options) -> str:
    """One run of the good model (options: quality, defect_where, defect_blur); its MLflow run id."""
    if "defect_where" in options:
        options["defect_suite"] = str(suite)
    cfg = EvalConfig(
        suite=suite,
        model=MODEL,
        model_options=options,
        out_dir=out / f"{name}-{seed}",
        tracking_uri=tracking_uri,
        batch_size=FRAMES,
        seed=seed,
        metrics=METRICS,
        progress=False,
        run_name=name,
    )
    return run_evaluation(cfg).run_id
