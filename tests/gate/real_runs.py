"""Real evaluation runs for gate tests: a small stratified suite built from shipped data and the
`tests.helpers.gate_models:good` plug-in model, evaluated by the real pipeline into MLflow.

The suite is every clip of `suites/real.yaml` (measured clip tags), the first `FRAMES` frames at
`RES` px, with its measured per-frame tags (`suites/real.conditions.parquet`): single-clip
conditions (yaw=moderate, lighting=bright, ...), a condition of some frames of one clip
(pitch=tilted) and conditions of 2 to 5 clips, as a stratified gating suite has.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from qa_harness.evaluate import EvalConfig, run_evaluation

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
