"""Whole `evaluate` vs a bare decode+model loop, and peak memory vs clip length (issue 3).

1. Throughput: the full pipeline (decode prefetch, model, metrics, records, MLflow) against a loop
   that only decodes the same frames and calls the same model, measured in one process, same
   frames. Target >= 0.9x on CPU (>= 0.85x on a GPU). With a weight-free model the metrics dominate,
   so pass a real model (`--model fomm` with `-o` options / `--checkpoint`) for the figure that matters.
2. Memory: peak RSS of `evaluate` (in fresh subprocesses) on a clip and on a 10x longer one; the
   pipeline streams, so the ratio must stay near 1, not near 10.

    python benchmarks/evaluate_bench.py [--model NAME] [--checkpoint PATH | --random-checkpoint]
        [-o KEY=VALUE] [--max-frames N] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qa_harness.evaluate import EvalConfig, run_evaluation  # noqa: E402
from qa_harness.executors.worker import build_model  # noqa: E402
from qa_harness.suites.manifest import load_suite  # noqa: E402
from qa_harness.video.io import iter_frames  # noqa: E402


def bare_loop(suite_path: Path, model_name: str, checkpoint, options: dict, batch: int) -> float:
    """Frames/s of decode + model only, over the suite's reconstruction pairs."""
    suite = load_suite(suite_path)
    model = build_model(model_name, checkpoint=checkpoint, device=torch.device("cpu"), options=options)
    frames, start = 0, time.perf_counter()
    with torch.inference_mode():
        for pair in suite.pairs:
            if pair.protocol != "reconstruction":
                continue
            state = None
            for chunk in iter_frames(
                pair.driving.path,
                resolution=suite.resolution,
                crop=pair.driving.crop,
                chunk=batch,
                max_frames=suite.max_frames,
            ):
                if state is None:
                    state = model.prepare(chunk[0], driving_first=chunk[0])
                model.animate(state, chunk)
                frames += chunk.shape[0]
    return frames / (time.perf_counter() - start)


def recon_only_suite(tmp: Path, max_frames: int) -> Path:
    """The demo suite restricted to its reconstruction pairs (the bare loop's workload)."""
    manifest = yaml.safe_load((REPO / "suites/demo.yaml").read_text())
    manifest["data_root"] = str(REPO / "data")
    manifest["max_frames"] = max_frames
    manifest["pairs"] = [p for p in manifest["pairs"] if isinstance(p, str)]
    path = tmp / "recon.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    suite = recon_only_suite(tmp, args.max_frames)
    options = dict(args.option)
    if args.random_checkpoint:
        args.checkpoint = random_official_checkpoint(args.model, tmp)
    bare_loop(suite, args.model, args.checkpoint, options, args.batch_size)  # warm-up: page cache, lazy imports
    bare = bare_loop(suite, args.model, args.checkpoint, options, args.batch_size)
    start = time.perf_counter()
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model=args.model,
            checkpoint=args.checkpoint,
            model_options=options,
            batch_size=args.batch_size,
            out_dir=tmp / "run",
            overwrite=True,
            progress=False,
            tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
            metrics=tuple(args.metrics.split(",")),
        )
    )
    total = time.perf_counter() - start
    frames = sum(o.frames for o in result.outcomes)
    print(f"model={args.model} metrics={args.metrics} batch={args.batch_size}")
    print(f"bare decode+model loop : {bare:8.1f} frames/s")
    fps = result.frames_per_second
    print(f"evaluate (pair loop)   : {fps:8.1f} frames/s  ratio {fps / bare:.2f}x")
    print(
        f"evaluate (whole call)  : {frames / total:8.1f} frames/s  ratio {frames / total / bare:.2f}x "
        "(includes suite hashing, MLflow run creation and logging)"
    )


def random_official_checkpoint(model: str, tmp: Path) -> Path:
    """A seeded random checkpoint in the official layout of a reference model (vox config)."""
    from qa_harness.reference_models.spec import build_reference

    network, _ = build_reference(__import__(f"qa_harness.reference_models.{model}", fromlist=["SPEC"]).SPEC)
    path = tmp / f"{model}-random.pth"
    torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()}, path)
    return path


def peak_rss(tmp: Path, frames: int) -> float:
    """Peak RSS (MB) of a fresh `evaluate` process on one clip of `frames` frames."""
    from tests.helpers.media import CLIPS, decode, write_mp4

    base = decode(CLIPS / "d20.mp4", 175)
    clip = write_mp4(tmp / f"long{frames}.mp4", [base[i % len(base)] for i in range(frames)])
    suite = tmp / f"mem{frames}.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "name": f"mem{frames}",
                "data_root": str(tmp),
                "resolution": 256,
                "clips": [{"id": "c", "path": clip.name}],
            }
        )
    )
    code = (
        "import json, resource, sys; from pathlib import Path; from qa_harness.evaluate import EvalConfig, "
        "run_evaluation; run_evaluation(EvalConfig(suite=Path(sys.argv[1]), model='identity', "
        "out_dir=Path(sys.argv[2]), overwrite=True, progress=False, tracking_uri=sys.argv[3], "
        "metrics=('l1','psnr','ssim'))); "
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(suite), str(tmp / f"memrun{frames}"), f"sqlite:///{tmp / 'mem.db'}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="identity")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        type=lambda s: (s.split("=")[0], yaml.safe_load(s.split("=", 1)[1])),
    )
    parser.add_argument("--metrics", default="l1,psnr,ssim")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-frames", type=int, default=40, help="driving frames per clip (default 40)")
    parser.add_argument(
        "--random-checkpoint",
        action="store_true",
        help="seeded random weights in the official layout (fomm, tpsmm, mraa)",
    )
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        throughput(args, Path(tmp))
        if not args.skip_memory:
            short, long = peak_rss(Path(tmp), 150), peak_rss(Path(tmp), 1500)
            print(
                f"peak RSS: 150 frames {short:.0f} MB, 1500 frames {long:.0f} MB, ratio {long / short:.2f}x "
                "(10x the frames)"
            )


if __name__ == "__main__":
    main()
