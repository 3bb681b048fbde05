"""LPIPS perceptual distance per frame: `lpips` (AlexNet trunk, the default) and `lpips_vgg` (VGG16).

The two names are one class over two `NetSpec`s (variants are config, not copies). Lower is better,
0 for identical frames. Frames arrive in [0, 1] and are mapped to LPIPS's [-1, 1]; the whole batch
goes through the network at once on the context device (GPU when there is one). The network and
where its weights come from are described in `qa_harness.metrics.lpips_net`; an absent weight file
raises `WeightsUnavailableError` at build time, which the runner reports as "metric unavailable".

Metric card. *Range* [0, ~1], lower is better, 0 for identical frames. *Reference*: `lpips` 0.1.4
(`tests/test_lpips.py`, 1e-5 with the same weights) and the published example distances with the
ImageNet weights (AlexNet 0.7219 / 0.1376, `tests/test_lpips_weights.py`, 1e-4). *Weights*: a user's
torchvision file, else the ones `qa-harness weights install lpips` builds (the run's `lpips_weights`
param says which). *Failure modes*: needs >= 31 px (AlexNet) frames; blind to time.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from qa_harness.errors import QaHarnessError
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext, check_frame_pair
from qa_harness.metrics.lpips_net import ALEXNET, VGG16, NetSpec, load_lpips_net


class LPIPS(Metric):
    """Learned perceptual image patch similarity (Zhang et al., CVPR 2018), version 0.1."""

    needs_reference = True

    def __init__(self, spec: NetSpec, *, name: str, device: torch.device, backbone: Path | None = None) -> None:
        self.name = name
        self.columns = (Column(name, higher_is_better=False, low=0.0),)
        self.device = device
        self.net = load_lpips_net(spec, backbone=backbone).to(device)

    @torch.inference_mode()
    def distance(self, output: Tensor, target: Tensor) -> Tensor:
        """(N, 3, H, W) x2 in [0, 1] -> (N,) float32 LPIPS distances on the context device."""
        check_frame_pair(output, target, metric=self.name)
        return self.net.unit_distance(output, target)

    def run_params(self) -> dict[str, str]:
        return {self.net.spec.param: self.net.weights_label}

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(
                f"{self.name}: needs ground truth, but pair {batch.pair.id!r} has none ({batch.pair.protocol} protocol)"
            )
        return {self.name: self.distance(batch.output, batch.target)}


#: `build(net=...)` -> the network spec.
NETS = {"alex": ALEXNET, "vgg": VGG16}


def build(ctx: MetricContext, *, net: str = "alex", name: str = "lpips") -> LPIPS:
    if net not in NETS:
        raise QaHarnessError(f"{name}: unknown LPIPS net '{net}' (known: {', '.join(NETS)})")
    return LPIPS(NETS[net], name=name, device=ctx.device)
