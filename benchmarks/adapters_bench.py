"""Our model adapters against the official implementations' forward, same weights and frames (issue 18 item 4c).

For each of fomm, tpsmm, mraa, mrfa whose official checkout is given: the official vox config at 256 px,
name-seeded weights (`tests.parity.common.seed_weights`, the parity fixtures' way) in the official modules,
saved in the official checkpoint layout and loaded by our `Animator`; real frames of `data/clips/d12.mp4`
(frame 0 the source, every second frame after it the driving). Timed per batch size (default 1 and 16):
(a) the official per-frame loop exactly as its `reconstruction.py` calls the modules (`tests/parity/
official_<model>.py: reconstruction`), (b) our `Animator.animate` on the whole batch. The per-video work
(source keypoints; our `prepare`) is done before timing on both sides, except that MRFA's official forward
detects the source keypoints again on every call, as the official code does. Warm-up first, then
`--repeats` alternating rounds (official first in even rounds, ours first in odd ones, so load changes hit
both alike); medians, frames/s, ours/official (wall, and official/ours CPU seconds of this process: less
sensitive to other jobs' load), and max |ours - official| over the batch's predictions
against the parity tolerance (tests/parity/checks.py, 1e-4). Targets: ratio >= 1.0, max-abs <= 1e-4; the
exit status is 1 when one is missed, 2 for a bad argument.

The official code is never copied into the project: pass checkouts (REFERENCE.md section 8 pins the
commits). A model without one is skipped and said so (a user normally has none; CI never runs this).
MRFA's official code needs einops 0.3 on PYTHONPATH (`pip install --target DIR einops==0.3.2`).
With `--device cuda`, our adapter is also timed under bf16 autocast (speed-up over our float32 and
max-abs vs our float32 reported); that path has not been run on a GPU yet.

    python benchmarks/adapters_bench.py --fomm DIR --tpsmm DIR --mraa DIR --mrfa DIR \
        [--batches 1 16] [--repeats 3] [--threads 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.parity.checks import TOLERANCE  # noqa: E402

#: Model -> (official repository, the file an official checkout must have).
OFFICIAL = {
    "fomm": ("AliaksandrSiarohin/first-order-model", "modules/generator.py"),
    "tpsmm": ("yoyo-nb/Thin-Plate-Spline-Motion-Model", "modules/inpainting_network.py"),
    "mraa": ("snap-research/articulated-animation", "modules/region_predictor.py"),
    "mrfa": ("JialeTao/MRFA", "modules/model.py"),
}
TARGET_RATIO = 1.0
Frames = Callable[[torch.Tensor], torch.Tensor]


def _official_networks(model: str, repo: Path, tmp: Path, stack) -> tuple[dict[str, torch.nn.Module], Path, str]:
    """The official modules with seeded weights (eval), the same weights saved as an official checkpoint,
    and the official config's name."""
    from tests.parity.common import SEED, seed_weights

    if model == "mrfa":
        import yaml

        from tests.parity import official_mrfa

        try:
            official_model = official_mrfa.load_official(repo)
        except ModuleNotFoundError as error:
            raise SystemExit(f"{repo}: the official MRFA code cannot be imported ({error}); needs einops 0.3") from None
        config = yaml.safe_load((repo / "config" / "vox1.yaml").read_text())
        network = official_mrfa.build_official(official_model, config)
        path = tmp / "vox1.pth"
        torch.save({"model": {f"module.{k}": v for k, v in official_mrfa.model_state(network).items()}}, path)
        return {"model": network}, path, "vox1"
    import importlib

    import yaml

    from tests.parity.official import official_repo

    plugin = importlib.import_module(f"tests.parity.official_{model}")
    ns = stack.enter_context(official_repo(repo))
    params = yaml.safe_load((repo / plugin.OFFICIAL_CONFIG).read_text())["model_params"]
    torch.manual_seed(SEED)
    nets = {key: seed_weights(net).eval() for key, net in plugin.build(ns, params).items()}
    path = tmp / "official.pth.tar"
    torch.save({key: net.state_dict() for key, net in nets.items()}, path)
    return nets, path, Path(plugin.OFFICIAL_CONFIG).stem


def _official_frames(model: str, nets: dict[str, torch.nn.Module], source: torch.Tensor) -> Frames:
    import importlib

    plugin = importlib.import_module(f"tests.parity.official_{model}")
    if model == "mrfa":
        return plugin.reconstruction(nets["model"], source)
    return plugin.reconstruction(nets, source)


def _timed(run: Frames, driving: torch.Tensor, device: str) -> tuple[float, float, torch.Tensor]:
    """Wall seconds, this process's CPU seconds (all threads) and the output of one call."""
    if device == "cuda":
        torch.cuda.synchronize()
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = run(driving)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu, out.float().cpu()


def measure(model: str, repo: Path, device: str, batches: list[int], repeats: int) -> list[dict]:
    """All rows of one model, in this process (the official `modules` package is imported from `repo`)."""
    import contextlib

    from qa_harness.catalog import MODELS
    from tests.parity.common import clip_frames

    frames = clip_frames(256, tuple(range(0, 2 * max(batches) + 1, 2))).to(device)
    source, driving = frames[:1], frames[1:]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        nets, checkpoint, config = _official_networks(model, repo, tmp, stack)
        nets = {key: net.to(device) for key, net in nets.items()}
        with torch.no_grad():
            sides: dict[str, Frames] = {"official": _official_frames(model, nets, source)}
        variants = {"ours": None} | ({"ours_bf16": "bf16"} if device == "cuda" else {})
        for name, autocast in variants.items():
            animator = MODELS.build(model, checkpoint=checkpoint, device=device, config=config, autocast=autocast)
            state = animator.prepare(source[0])
            sides[name] = lambda d, a=animator, s=state: a.animate(s, d)
        rows = []
        for batch in batches:
            batch_driving = driving[:batch]
            for run in sides.values():  # warm-up: one frame, then the batch (allocations depend on its size)
                _timed(run, batch_driving[:1], device)
                if batch > 1 and run is not sides["official"]:  # the official loop only ever sees one frame
                    _timed(run, batch_driving, device)
            seconds: dict[str, list[float]] = {name: [] for name in sides}
            cpu_seconds: dict[str, list[float]] = {name: [] for name in sides}
            outputs: dict[str, torch.Tensor] = {}
            for round_ in range(repeats):
                for name in list(sides) if round_ % 2 == 0 else list(sides)[::-1]:
                    elapsed, cpu, out = _timed(sides[name], batch_driving, device)
                    seconds[name].append(elapsed)
                    cpu_seconds[name].append(cpu)
                    outputs.setdefault(name, out)
            fps = {name: batch / statistics.median(times) for name, times in seconds.items()}
            cpu = {name: statistics.median(times) for name, times in cpu_seconds.items()}
            row = {
                "model": model,
                "config": config,
                "batch": batch,
                "official_fps": fps["official"],
                "ours_fps": fps["ours"],
                "ratio": fps["ours"] / fps["official"],
                "max_abs": (outputs["ours"].double() - outputs["official"].double()).abs().max().item(),
                "cpu_ratio": cpu["official"] / cpu["ours"],
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
            if "ours_bf16" in sides:
                row["bf16_speedup"] = fps["ours_bf16"] / fps["ours"]
                row["bf16_max_abs_vs_fp32"] = (outputs["ours_bf16"] - outputs["ours"]).abs().max().item()
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "CPU"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _check_checkout(model: str, path: Path) -> str | None:
    """None when `path` looks like a checkout of the model's official repository, else the problem."""
    name, marker = OFFICIAL[model]
    if not (path / marker).is_file():
        return f"--{model} {path}: not a checkout of {name} ({marker} missing)"
    return None


def _verdict(row: dict) -> str:
    problems = []
    if row["ratio"] < TARGET_RATIO:
        problems.append(f"ratio < {TARGET_RATIO}")
    if row["max_abs"] > TOLERANCE:
        problems.append(f"max-abs > {TOLERANCE:g}")
    return "; ".join(problems) or "ok"


def _table(rows: list[dict]) -> str:
    keys = ["model", "config", "batch", "official_fps", "ours_fps", "ratio", "cpu_ratio", "max_abs"]
    keys += [k for k in ("bf16_speedup", "bf16_max_abs_vs_fp32") if any(k in row for row in rows)]
    lines = ["| " + " | ".join(keys + ["verdict"]) + " |", "|" + "---|" * (len(keys) + 1)]
    for row in rows:
        cells = [f"{row[k]:.3g}" if isinstance(row.get(k), float) else str(row.get(k, "-")) for k in keys]
        lines.append("| " + " | ".join(cells + [_verdict(row)]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for model, (name, _) in OFFICIAL.items():
        parser.add_argument(f"--{model}", type=Path, metavar="DIR", help=f"checkout of {name}")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the shared VM has 2 cores)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or min(args.batches) < 1:
        parser.error("--repeats and --batches must be at least 1")
    torch.set_num_threads(args.threads)
    if args.worker:
        rows = measure(args.worker, getattr(args, args.worker), args.device, args.batches, args.repeats)
        print(json.dumps(rows))
        return 0
    problems = [p for m in OFFICIAL if getattr(args, m) and (p := _check_checkout(m, getattr(args, m)))]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    machine = torch.cuda.get_device_name() if args.device == "cuda" else _cpu_name()
    print(f"machine: {machine}, {os.cpu_count()} cores, {args.threads} torch threads, torch {torch.__version__}")
    rows, failed = [], []
    for model, (name, _) in OFFICIAL.items():
        repo = getattr(args, model)
        if repo is None:
            print(f"{model}: skipped, no --{model} checkout of {name} given (the official code is not in the project)")
            continue
        command = [sys.executable, __file__, "--worker", model, f"--{model}", str(repo), "--device", args.device]
        command += ["--threads", str(args.threads), "--repeats", str(args.repeats), "--batches"]
        command += [str(b) for b in args.batches]
        before = _load()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            failed.append(model)
            print(f"{model}: FAILED (exit {done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        print(f"{model}: load average (1, 5, 15 min) before {before}, after {_load()}")
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    if not rows:
        print("nothing measured: no official checkout given" if not failed else "nothing measured")
        return 1 if failed else 0
    print(_table(rows))
    print(f"targets: ours/official >= {TARGET_RATIO}, max |ours - official| <= {TOLERANCE:g} (parity tolerance)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if failed or any(_verdict(row) != "ok" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
