"""Helpers shared by the fixture script and the parity tests (no official code is imported here).

Weights: `seed_weights` fills every parameter and BatchNorm running statistic from a generator seeded by
the parameter's name, so the official network and ours get identical weights from names alone. That lets
the vox-256 parity test run the full-size network without storing its 60 M parameters: the fixture holds
names, shapes and outputs, and the test refills our network from the same names.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_CONFIGS = Path(__file__).resolve().parent / "configs"
#: The clip the fixture frames come from, and the frame indices used (source first).
CLIP = ROOT / "data" / "clips" / "d12.mp4"
FRAME_INDICES = (0, 12, 24)
SEED = 20261125


def _fill(name: str, shape: torch.Size, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed + zlib.crc32(name.encode()))
    noise = torch.randn(shape, generator=generator)
    if name.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=generator)
    if name.endswith(("jacobian.bias", "mlp_head_jacobian.1.bias")):  # FOMM conv / MRFA MTIA linear head
        return torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(shape[0] // 4) + 0.05 * noise
    if name.endswith(("jacobian.weight", "mlp_head_jacobian.1.weight")):
        return noise * 0.1 / math.sqrt(math.prod(shape[1:]))
    if len(shape) >= 2:
        return noise / math.sqrt(math.prod(shape[1:]))
    if name.endswith("weight"):
        return 1 + 0.1 * noise
    return 0.1 * noise


def seed_weights(module: nn.Module, seed: int = SEED, gains: dict[str, float] | None = None) -> nn.Module:
    """Overwrite parameters and BN running mean/var in place from name-seeded generators; returns `module`.

    `gains` multiplies the tensors whose name contains a key by its value: plain seeded weights give
    keypoints that barely follow the input, unlike trained ones, and a gain on e.g. MTIA's attention
    (`to_qkv`) puts a fixture in the regime where they do."""
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            is_stat = name.endswith(("running_mean", "running_var"))
            if isinstance(tensor, nn.Parameter) or is_stat:
                gain = math.prod(g for key, g in (gains or {}).items() if key in name)
                tensor.copy_(_fill(name, tensor.shape, seed) * gain)
    return module


def names_and_shapes(module: nn.Module) -> dict[str, list[int]]:
    """{state-dict name: shape} of a module."""
    return {name: list(t.shape) for name, t in module.state_dict().items()}


def clip_frames(size: int, indices: tuple[int, ...] = FRAME_INDICES, clip: Path = CLIP) -> Tensor:
    """Frames `indices` of a clip (default: the fixture clip), centre-cropped square, resized:
    (N,3,size,size) in [0,1]."""
    wanted, frames = set(indices), {}
    with av.open(str(clip)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")
            if len(frames) == len(wanted):
                break
    stack = torch.from_numpy(np.stack([frames[i] for i in indices])).permute(0, 3, 1, 2).float() / 255
    h, w = stack.shape[2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = stack[:, :, top : top + side, left : left + side]
    resized = F.interpolate(square, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (resized.clamp(0, 1) * 255).round() / 255


def fixture_path(model: str, config: str) -> Path:
    return FIXTURES / model / f"{config}.pt"


def load_fixture(model: str, config: str) -> dict:
    return torch.load(fixture_path(model, config), map_location="cpu", weights_only=True)


def max_abs(a: Tensor, b: Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def conv_macs(network: nn.Module, run) -> tuple[object, int]:
    """`run()`'s result and the multiply-accumulates of every convolution it executed (the bulk of
    MRFA's cost), counted with forward hooks."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * module.in_channels // module.groups * kh * kw

    hooks = [m.register_forward_hook(count) for m in network.modules() if isinstance(m, nn.Conv2d)]
    try:
        result = run()
    finally:
        for hook in hooks:
            hook.remove()
    return result, total
