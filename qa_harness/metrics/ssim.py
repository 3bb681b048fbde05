"""Structural similarity per frame: OpenCV's separable filter on the CPU, torch convolutions on CUDA.

Settings (Wang et al. 2004, as `skimage.metrics.structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1)`): an 11x11 Gaussian window
(sigma 1.5, truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, SSIM computed per channel and averaged,
and the mean taken over the "valid" region only (skimage crops the 5-pixel border the window overhangs).
The FOMM-family papers do not fix these; we pick the standard ones and test against skimage.

Metric card. *Range* [-1, 1], higher is better, 1 for identical frames. *Reference*: skimage with the
settings above (tests, 1e-4). *Failure modes*: a frozen eye or mouth is a few % of the frame and barely
moves whole-frame SSIM (use `face_regions`); blind to time (see `temporal`).

>>> import torch
>>> frame = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
>>> float(ssim(frame, frame))
1.0
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from qa_harness.metrics.base import FrameMetric, MetricContext, check_frame_pair

SIGMA = 1.5
RADIUS = int(3.5 * SIGMA + 0.5)  # scipy.ndimage's truncate=4.0 default is overridden by skimage to 3.5
K1, K2 = 0.01, 0.03


@functools.lru_cache(maxsize=8)
def _taps(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The 11 normalised Gaussian taps."""
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / SIGMA) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def _filter(x: Tensor) -> Tensor:
    """Separable 'valid' Gaussian filter of (N, C, H, W), channel-wise.

    Depthwise convolutions on a channels-last tensor: measured on an idle 2-core CPU at 256 px, 7.6 ms
    per frame against 10.9 for a banded matmul and ~4x that for depthwise convolutions in NCHW.
    """
    c = x.shape[1]
    g = _taps(x.dtype, x.device)
    x = x.contiguous(memory_format=torch.channels_last)
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """(N, 3, H, W) x2 in [0, 1] -> (N,) SSIM in [-1, 1]; frames must be at least 11x11.

    On the CPU each frame goes through OpenCV's separable filter (`_ssim_cpu`); elsewhere (CUDA) the
    whole batch through torch convolutions (`_ssim_torch`). Both compute in float32; they agree to 1e-6 on
    whole frames and 5e-6 on 64 px crops (`tests/test_pixel_metrics.py`), and each to 1e-4 with skimage.
    """
    check_frame_pair(output, target, metric="ssim")
    if min(output.shape[-2:]) < 2 * RADIUS + 1:
        raise ValueError(f"ssim: frames must be at least {2 * RADIUS + 1} px, got {tuple(output.shape[-2:])}")
    fn = _ssim_cpu if output.device.type == "cpu" and target.device.type == "cpu" else _ssim_torch
    return fn(output.float(), target.float()).to(output.dtype)


def _ssim_map(mu_x, mu_y, xx, yy, xy):  # numpy arrays or tensors
    """The SSIM map from the five filtered maps (one formula for both paths)."""
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = K1**2, K2**2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def _ssim_torch(x: Tensor, y: Tensor) -> Tensor:
    stacked = _filter(torch.cat([x, y, x * x, y * y, x * y]))
    return _ssim_map(*stacked.chunk(5)).flatten(1).mean(dim=1)


@functools.lru_cache(maxsize=1)
def _pool(workers: int, pid: int) -> ThreadPoolExecutor:
    """One pool per process (`pid`: a forked worker must not inherit its parent's dead threads)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ssim")


def _ssim_cpu(x: Tensor, y: Tensor) -> Tensor:
    """Frames in parallel threads (OpenCV and numpy release the GIL), one per torch thread.

    Why: per 256 px frame this takes ~5 ms of CPU against ~30 for the batched depthwise convolutions,
    whose 15 planes x N frames of float32 maps do not stay in cache (measured, benchmarks/RESULTS.md
    "issue 18"). One channels-last copy of each batch; OpenCV filters the (H, W, 3) frames as they are.
    """
    xs = x.detach().permute(0, 2, 3, 1).contiguous().numpy()
    ys = y.detach().permute(0, 2, 3, 1).contiguous().numpy()
    taps = _taps(torch.float32, torch.device("cpu")).numpy()
    r = RADIUS

    def frame(i: int) -> float:
        a, b = xs[i], ys[i]
        maps = [
            cv2.sepFilter2D(m, cv2.CV_32F, taps, taps, borderType=cv2.BORDER_CONSTANT)[r:-r, r:-r]
            for m in (a, b, a * a, b * b, a * b)
        ]
        return float(_ssim_map(*maps).mean(dtype=np.float32))

    values = list(_pool(max(1, torch.get_num_threads()), os.getpid()).map(frame, range(len(xs))))
    return torch.tensor(values, dtype=torch.float32)


def build(ctx: MetricContext) -> FrameMetric:
    return FrameMetric(name="ssim", fn=ssim, higher_is_better=True, low=-1.0, high=1.0)
