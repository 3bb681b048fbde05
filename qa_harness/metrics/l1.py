"""Mean absolute pixel error per frame (the L1 of the FOMM/TPSMM/MRFA reconstruction tables)."""

from __future__ import annotations

from torch import Tensor

from qa_harness.metrics.base import FrameMetric, MetricContext, check_frame_pair


def l1(output: Tensor, target: Tensor) -> Tensor:
    """(N, 3, H, W) x2 in [0, 1] -> (N,) mean |output - target| over pixels and channels."""
    check_frame_pair(output, target, metric="l1")
    return (output - target).abs().flatten(1).mean(dim=1)


def build(ctx: MetricContext) -> FrameMetric:
    return FrameMetric(name="l1", fn=l1, higher_is_better=False, low=0.0, high=1.0)
