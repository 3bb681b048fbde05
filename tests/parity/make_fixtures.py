"""Record parity fixtures from an official repository checkout (run by hand; never by the tests).

    python -m tests.parity.make_fixtures --repo /path/to/first-order-model --model fomm \
        --out tests/parity/fixtures

For a model `m`, the plug-in `tests/parity/official_<m>.py` provides MODEL, OFFICIAL_CONFIG (path in the
repository), FULL_SIZE, TINY_SIZE, `build(repo, model_params) -> {checkpoint key: module}` and
`run(repo, networks, frames) -> {output name: tensor}`. Each config is built with name-seeded weights
(`common.seed_weights`) in eval mode and run once on real frames of `data/clips` (frames[0] = source;
the tiny config gets two driving frames and the relative mode, the full-size config one driving frame,
to keep CPU tests fast):
- `<out>/<m>/tiny.pt`: the tiny config (`tests/parity/configs/<m>-tiny.yaml`, official keys, small
  channels): frames, every sub-network's state dict (except the plug-in's SEEDED_ONLY fixed-size
  backbones, which the tests refill from the same name-seeded generator), every output.
- `<out>/<m>/<official config>.pt`: frames as uint8, outputs spatially strided to <= 16 K values each
  (stride recorded), parameter names and shapes per sub-network.
- `<out>/<m>/configs/<config>.json`: names and shapes of every official config in the repository (meta
  device, no forward); `--shapes-only` writes just these.
All plain tensors and containers, loadable with `weights_only=True`. Pin the checkout to the commit in
REFERENCE.md section 8.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

import torch
import yaml

from tests.parity.common import FRAME_INDICES, SEED, TINY_CONFIGS, clip_frames, names_and_shapes, seed_weights
from tests.parity.official import official_repo

log = logging.getLogger("make_fixtures")
#: Largest number of values kept per output of the full-size config.
MAX_VALUES = 16384


def _stride_for(tensor: torch.Tensor) -> int:
    stride = 1
    while tensor.dim() >= 4 and tensor[..., ::stride, ::stride].numel() > MAX_VALUES:
        stride *= 2
    return stride


def strided(tensor: torch.Tensor, stride: int) -> torch.Tensor:
    """Spatial subsampling of the last two axes (only for maps; (B,H,W,2) grids stride axes 1-2)."""
    if stride == 1:
        return tensor
    if tensor.shape[-1] == 2 and tensor.dim() == 4:
        return tensor[:, ::stride, ::stride]
    return tensor[..., ::stride, ::stride]


def record(plugin, repo, config_path: Path, size: int, *, full_state: bool) -> dict:
    model_params = yaml.safe_load(config_path.read_text())["model_params"]
    torch.manual_seed(SEED)
    nets = {key: seed_weights(net).eval() for key, net in plugin.build(repo, model_params).items()}
    frames = clip_frames(size, FRAME_INDICES if full_state else FRAME_INDICES[:2])
    with torch.no_grad():
        outputs = {k: v.detach().float().contiguous() for k, v in plugin.run(repo, nets, frames).items()}
    fixture = {
        "config": config_path.name,
        "seed": SEED,
        "shapes": {key: names_and_shapes(net) for key, net in nets.items()},
    }
    if full_state:
        fixture |= {
            "frames": frames,
            "outputs": outputs,
            "state_dicts": {
                key: {k: v.clone() for k, v in net.state_dict().items()}
                for key, net in nets.items()
                if key not in getattr(plugin, "SEEDED_ONLY", ())
            },
        }
    else:
        strides = {k: _stride_for(v) for k, v in outputs.items()}
        fixture |= {
            "frames_uint8": (frames * 255).round().to(torch.uint8),
            "strides": strides,
            "outputs": {k: strided(v, strides[k]).clone() for k, v in outputs.items()},
        }
    return fixture


def record_shapes(plugin, repo, folder: Path) -> None:
    """`<folder>/<config>.json`: parameter names and shapes per sub-network for every official config of the
    repository, built on the meta device (no memory, no forward pass)."""
    folder.mkdir(parents=True, exist_ok=True)
    for config_path in sorted((repo.path / Path(plugin.OFFICIAL_CONFIG).parent).glob("*.yaml")):
        model_params = yaml.safe_load(config_path.read_text())["model_params"]
        with torch.device("meta"):
            nets = plugin.build(repo, model_params)
        shapes = {key: names_and_shapes(net) for key, net in nets.items()}
        (folder / f"{config_path.stem}.json").write_text(json.dumps(shapes, separators=(",", ":")) + "\n")
        log.info("%s: %d sub-networks", folder / f"{config_path.stem}.json", len(shapes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="official repository checkout")
    parser.add_argument("--model", required=True, help="fomm | tpsmm | mraa | ... (tests/parity/official_<model>.py)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "fixtures")
    parser.add_argument("--shapes-only", action="store_true", help="only the names/shapes of every official config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    plugin = importlib.import_module(f"tests.parity.official_{args.model}")
    out_dir = args.out / plugin.MODEL
    out_dir.mkdir(parents=True, exist_ok=True)
    with official_repo(args.repo) as repo:
        if args.shapes_only:
            record_shapes(plugin, repo, out_dir / "configs")
            return 0
        jobs = [
            (TINY_CONFIGS / f"{plugin.MODEL}-tiny.yaml", plugin.TINY_SIZE, True, "tiny"),
            (args.repo / plugin.OFFICIAL_CONFIG, plugin.FULL_SIZE, False, Path(plugin.OFFICIAL_CONFIG).stem),
        ]
        for config_path, size, full_state, name in jobs:
            fixture = record(plugin, repo, config_path, size, full_state=full_state)
            torch.save(fixture, out_dir / f"{name}.pt")
            log.info("%s: %.0f kB", out_dir / f"{name}.pt", (out_dir / f"{name}.pt").stat().st_size / 1024)
        record_shapes(plugin, repo, out_dir / "configs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
