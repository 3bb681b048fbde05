"""Gate + report on a run with 10,000 frame records: time, memory, report size (issue 6).

The records are synthetic but shaped like a real run: 200 pairs x 50 frames, three condition axes,
l1/psnr/ssim per frame, a baseline and a candidate whose extreme-pose clips regressed; the candidate
has thumbnails (3 frames per pair, written by `qa_harness.thumbs.write_thumbs` from real
frames of data/clips) and eye/mouth crops (placed from MediaPipe landmarks) as the runner logs
them. Gate and report read tables only, as in production.

    python benchmarks/gate_bench.py [--pairs 200] [--frames 50] [--mlflow]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa_harness.gate.evaluate import evaluate_gate  # noqa: E402
from qa_harness.gate.output import render_junit, render_markdown  # noqa: E402
from qa_harness.gate.policy import load_policy  # noqa: E402
from qa_harness.report.build import build_report  # noqa: E402
from qa_harness.runs.records import RunRecords  # noqa: E402
from qa_harness.thumbs import folder_source, thumb_frames, write_region_thumbs, write_thumbs  # noqa: E402

AXES = {
    "pose": ["frontal", "moderate", "extreme"],
    "occlusion": ["none", "hand", "glasses"],
    "lighting": ["normal", "dim"],
}


def records(run_id: str, pairs: int, frames: int, seed: int, regress: float) -> RunRecords:
    """Per-frame metrics: a per-clip level plus frame noise; extreme-pose clips lose `regress` SSIM."""
    rng = np.random.default_rng(seed)
    clip_rng = np.random.default_rng(0)  # clip difficulty and tags are properties of the suite
    rows = []
    for p in range(pairs):
        tags = {axis: values[clip_rng.integers(len(values))] for axis, values in AXES.items()}
        level = clip_rng.normal(0.85, 0.05)
        ssim = np.clip(level + rng.normal(0, 0.01, frames) - (regress if tags["pose"] == "extreme" else 0), 0, 1)
        for f in range(frames):
            rows.append(
                {
                    "run_id": run_id,
                    "suite": "bench",
                    "suite_version": "v1",
                    "pair_id": f"clip{p:04d}",
                    "protocol": "reconstruction",
                    "frame": f,
                    "metric:ssim": ssim[f],
                    "metric:l1": 0.25 * (1 - ssim[f]),
                    "metric:psnr": 20 + 20 * ssim[f],
                    **{f"cond:{a}": v for a, v in tags.items()},
                }
            )
    table = pd.DataFrame(rows)
    clips = pd.DataFrame(
        {"pair_id": table["pair_id"].unique(), "status": "ok", "frames": frames, "seconds": 1.0, "error": ""}
    )
    return RunRecords(
        run_id,
        run_id,
        "bench",
        "v1",
        table,
        clips,
        {"model": "bench"},
        {"perf/frames_per_second": 40.0, "perf/peak_rss_mb": 1200.0},
        {"ssim": True, "psnr": True, "l1": False},
    )


def write_all_thumbs(folder: Path, pairs: int, frames: int) -> None:
    with av.open(str(REPO / "data" / "clips" / "d12.mp4")) as container:
        real = [
            f.to_ndarray(width=128, height=128, format="rgb24")
            for _, f in zip(range(8), container.decode(video=0), strict=False)
        ]
    images = [np.asarray(r, dtype=np.float32).transpose(2, 0, 1) / 255.0 for r in real]
    boxes = face_boxes(images)
    for p in range(pairs):
        for f in thumb_frames(frames, k=3):
            target, output = images[f % 8], np.clip(images[f % 8] * 0.95, 0, 1)
            write_thumbs(folder, f"clip{p:04d}", f, source=images[0], target=target, output=output)
            write_region_thumbs(folder, f"clip{p:04d}", f, boxes[f % 8], target=target, output=output)


def face_boxes(images: list[np.ndarray]) -> list[dict[str, list[float]]]:
    """Eye and mouth boxes per frame from MediaPipe landmarks, placed as the face-region metrics place them."""
    import torch

    from qa_harness.catalog import LANDMARKS
    from qa_harness.metrics._face_geometry import named_boxes

    detector = LANDMARKS.build("mediapipe", device=torch.device("cpu"))
    boxes = named_boxes(detector.detect(torch.from_numpy(np.stack(images))).points)
    return [{name: box[i].tolist() for name, box in boxes.items()} for i in range(len(images))]


def log_to_mlflow(uri: str, run: RunRecords, folder: Path) -> str:
    """The run as `qa-harness evaluate` logs it (the params and artifacts gate and report read)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("bench") or client.get_experiment(client.create_experiment("bench"))
    run_id = client.create_run(experiment.experiment_id, run_name=run.name).info.run_id
    for key in ("suite", "suite_version"):
        client.log_param(run_id, key, getattr(run, key))
    for key, value in run.metrics.items():
        client.log_metric(run_id, key, value)
    records = folder / run.name
    records.mkdir(parents=True)
    run.frames.to_parquet(records / "frames.parquet", index=False)
    run.clips.to_parquet(records / "clips.parquet", index=False)
    client.log_artifacts(run_id, str(records), artifact_path="records")
    summary = folder / f"{run.name}-summary" / "summary.json"  # the metrics' directions
    summary.parent.mkdir()
    summary.write_text(json.dumps({"higher_is_better": dict(run.higher_is_better)}))
    client.log_artifact(run_id, str(summary))
    return run_id


def end_to_end(baseline: RunRecords, candidate: RunRecords, thumbs: Path, folder: Path) -> None:
    """`qa-harness gate` and `qa-harness report` through the CLI on a sqlite MLflow store."""
    from mlflow.tracking import MlflowClient

    from qa_harness.cli import main as cli

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    base_id, cand_id = log_to_mlflow(uri, baseline, folder), log_to_mlflow(uri, candidate, folder)
    MlflowClient(uri).log_artifacts(cand_id, str(thumbs), artifact_path="thumbs")
    policy = str(REPO / "gates" / "default.yaml")
    started = time.perf_counter()
    code = cli(
        [
            "gate",
            "--candidate",
            cand_id,
            "--baseline",
            base_id,
            "--policy",
            policy,
            "--tracking-uri",
            uri,
            "--junit",
            str(folder / "junit.xml"),
        ]
    )
    gate_s = time.perf_counter() - started
    started = time.perf_counter()
    cli(["report", cand_id, "--baseline", base_id, "--out", str(folder / "report.html"), "--tracking-uri", uri])
    report_s = time.perf_counter() - started
    print(
        f"end to end via MLflow (sqlite): gate {gate_s:.2f} s (exit {code}), report {report_s:.2f} s "
        "(read both runs, download thumbnails, build, log)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--mlflow", action="store_true", help="also time gate and report through the CLI on MLflow")
    args = parser.parse_args()
    baseline = records("baseline", args.pairs, args.frames, seed=1, regress=0.0)
    candidate = records("candidate", args.pairs, args.frames, seed=2, regress=0.03)
    policy = load_policy(REPO / "gates" / "default.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        thumbs = Path(tmp) / "thumbs"
        started = time.perf_counter()
        write_all_thumbs(thumbs, args.pairs, args.frames)
        thumbs_s = time.perf_counter() - started
        thumb_files = list(thumbs.rglob("*.jpg"))
        thumbs_bytes = sum(p.stat().st_size for p in thumb_files)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        result = evaluate_gate(policy, candidate, baseline)
        render_junit(result), render_markdown(result)
        gate_s = time.perf_counter() - started
        started = time.perf_counter()
        html = build_report(candidate, baseline=baseline, gate=result, thumbs=folder_source(thumbs))
        report_s = time.perf_counter() - started
        # second pass under tracemalloc (which slows allocation-heavy code): Python-level peaks only
        tracemalloc.start()
        evaluate_gate(policy, candidate, baseline)
        _, gate_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        build_report(candidate, baseline=baseline, gate=result, thumbs=folder_source(thumbs))
        _, report_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        if args.mlflow:
            end_to_end(baseline, candidate, thumbs, Path(tmp))
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"records: {len(candidate.frames):,} frames x 2 runs, {args.pairs} pairs, {len(result.checks)} checks, "
        f"verdict {result.verdict} ({len(result.failures)} failed)"
    )
    print(f"gate (evaluate + JUnit + Markdown): {gate_s:.2f} s, Python peak {gate_peak / 2**20:.1f} MiB")
    print(
        f"report: {report_s:.2f} s, Python peak {report_peak / 2**20:.1f} MiB, size {len(html.encode()) / 1024:.0f} KiB"
    )
    print(f"thumbnails and crops: {thumbs_s:.2f} s to write {len(thumb_files)} files, {thumbs_bytes / 1024:.0f} KiB")
    print(f"process peak RSS: {rss_after:.0f} MiB (before gate/report {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
