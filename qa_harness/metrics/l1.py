"""Mean absolute pixel error per frame (the L1 of the FOMM/TPSMM/MRFA reconstruction tables).

Metric card. *What*: mean |output - ground truth| over pixels and RGB channels, frames in [0, 1].
*Range* [0, 1], lower is better, 0 for identical frames. *Reference*: numpy (tests, exact to float32).
*Failure modes*: blind to structure (a blur and a shift of equal energy score alike) and to time
(a shuffled clip of good frames scores well: see `temporal`).

>>> import torch
>>> l1(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.25))
tensor([0.2500])
"""

from __future__ import annotations

from torch import Tensor

from qa_harness.metrics.base import FrameMetric, MetricContext, check_frame_pair


def l1(output: Tensor, target: Tensor) -> Tensor:
    """(N, 3, H, W) x2 in [0, 1] -> (N,) mean |output - target| over pixels and channels."""
    check_frame_pair(output, target, metric="l1")
    return (output - target).abs().flatten(1).mean(dim=1)


def build(ctx: MetricContext) -> FrameMetric:
    return FrameMetric(name="l1", fn=l1, higher_is_better=False, low=0.0, high=1.0)
