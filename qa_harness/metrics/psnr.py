"""Peak signal-to-noise ratio per frame, data range 1 (as `skimage.metrics.peak_signal_noise_ratio`).

Identical frames would give +inf; the MSE is floored at 1e-10, so the maximum is 100 dB and the
`driving` ceiling still aggregates to a finite number.

Metric card. *What*: 10 log10(1 / MSE) over pixels and channels. *Range* [0, 100] dB, higher is
better. *Reference*: `skimage.metrics.peak_signal_noise_ratio(data_range=1)` (tests, 1e-4 dB).
*Failure modes*: as L1, dominated by large errors; blind to time.

>>> import torch
>>> round(float(psnr(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1))), 4)
20.0
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics.base import FrameMetric, MetricContext, check_frame_pair

MSE_FLOOR = 1e-10


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """(N, 3, H, W) x2 in [0, 1] -> (N,) PSNR in dB."""
    check_frame_pair(output, target, metric="psnr")
    mse = torch.stack([_mse64(o, t) for o, t in zip(output, target, strict=True)])
    return (10.0 * torch.log10(1.0 / mse.clamp_min(MSE_FLOOR))).to(output.dtype)


def _mse64(output: Tensor, target: Tensor) -> Tensor:
    """One frame's mean squared error in float64 (the difference of two float32 values is exact there).

    Frame by frame and in place: a frame's float64 copy (1.5 MB at 256 px) stays in cache, and the
    values are bit for bit those of the whole-batch expression (measured: 2.8 against 6.4 ms per frame).
    """
    diff = output.to(torch.float64, copy=True)  # a copy even when float64 already: changed in place
    return diff.sub_(target).square_().mean()


def build(ctx: MetricContext) -> FrameMetric:
    return FrameMetric(name="psnr", fn=psnr, higher_is_better=True, low=0.0, high=100.0)
