"""Convolutional building blocks shared by FOMM, MRAA, TPSMM and MRFA.

Parameter names match the official `modules/util.py` of all four repositories, so official state dicts
load unchanged. What differs between the repositories is a constructor option here, not a copy:

- `norm`: "batch" (FOMM, MRAA, MRFA: `BatchNorm2d`; their `SynchronizedBatchNorm2d` has the same keys)
  or "instance" (TPSMM: `InstanceNorm2d(affine=True)`, no running statistics).
- `AntiAliasInterpolation2d(subsample=...)`: FOMM/MRAA keep every 1/scale-th pixel ("stride"),
  TPSMM/MRFA call nearest `F.interpolate` ("nearest").
- `deform(..., align_corners=...)`: FOMM/MRAA/MRFA call `grid_sample`/`interpolate` with the torch
  default (False), TPSMM passes True.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Norm = Literal["batch", "instance"]


def norm_layer(norm: Norm, channels: int) -> nn.Module:
    """The 2-D normalisation layer a repository uses (affine in both cases)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {norm!r}; expected 'batch' or 'instance'")


class ResBlock2d(nn.Module):
    """Pre-activation residual block: x + conv2(relu(norm2(conv1(relu(norm1(x))))))."""

    def __init__(self, in_features: int, kernel_size, padding, *, norm: Norm = "batch") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.norm1 = norm_layer(norm, in_features)
        self.norm2 = norm_layer(norm, in_features)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class SameBlock2d(nn.Module):
    """Conv, norm, ReLU at unchanged resolution (the shared core of the down and up blocks)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        groups: int = 1,
        kernel_size=3,
        padding=1,
        *,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = norm_layer(norm, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class UpBlock2d(SameBlock2d):
    """Nearest x2 upsampling, then conv, norm, ReLU (official argument order)."""

    def __init__(
        self, in_features: int, out_features: int, kernel_size=3, padding=1, groups: int = 1, *, norm: Norm = "batch"
    ) -> None:
        super().__init__(in_features, out_features, groups, kernel_size, padding, norm=norm)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.interpolate(x, scale_factor=2))


class DownBlock2d(SameBlock2d):
    """Conv, norm, ReLU, then 2x2 average pooling (official argument order)."""

    def __init__(
        self, in_features: int, out_features: int, kernel_size=3, padding=1, groups: int = 1, *, norm: Norm = "batch"
    ) -> None:
        super().__init__(in_features, out_features, groups, kernel_size, padding, norm=norm)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(super().forward(x))


def _level_channels(block_expansion: int, max_features: int, level: int) -> int:
    return min(max_features, block_expansion * (2**level))


class Encoder(nn.Module):
    """Hourglass encoder: `num_blocks` DownBlock2d; forward returns [x, level1, ..., levelN]."""

    def __init__(
        self,
        block_expansion: int,
        in_features: int,
        num_blocks: int = 3,
        max_features: int = 256,
        *,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                in_features if i == 0 else _level_channels(block_expansion, max_features, i),
                _level_channels(block_expansion, max_features, i + 1),
                kernel_size=3,
                padding=1,
                norm=norm,
            )
            for i in range(num_blocks)
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder with skip concatenation.

    `out_filters` is the channel count of the final output (block_expansion + in_features);
    `out_channels` lists the input channels of each up block followed by `out_filters` (TPSMM reads the
    intermediate outputs for its multi-resolution occlusion masks).
    """

    def __init__(
        self,
        block_expansion: int,
        in_features: int,
        num_blocks: int = 3,
        max_features: int = 256,
        *,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        blocks, self.out_channels = [], []
        for i in reversed(range(num_blocks)):
            in_filters = (1 if i == num_blocks - 1 else 2) * _level_channels(block_expansion, max_features, i + 1)
            self.out_channels.append(in_filters)
            blocks.append(
                UpBlock2d(
                    in_filters,
                    _level_channels(block_expansion, max_features, i),
                    kernel_size=3,
                    padding=1,
                    norm=norm,
                )
            )
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features
        self.out_channels.append(self.out_filters)

    def forward(self, features: list[Tensor], *, all_levels: bool = False) -> Tensor | list[Tensor]:
        """Encoder outputs -> final map, or (all_levels) the map after each up block, coarse to fine."""
        skips = list(features)
        out = skips.pop()
        outs = []
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
            outs.append(out)
        return outs if all_levels else out


class Hourglass(nn.Module):
    """U-Net style encoder-decoder ("hourglass") of the four repositories."""

    def __init__(
        self,
        block_expansion: int,
        in_features: int,
        num_blocks: int = 3,
        max_features: int = 256,
        *,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features, norm=norm)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features, norm=norm)
        self.out_filters = self.decoder.out_filters
        self.out_channels = self.decoder.out_channels

    def forward(self, x: Tensor, *, all_levels: bool = False) -> Tensor | list[Tensor]:
        return self.decoder(self.encoder(x), all_levels=all_levels)


class AntiAliasInterpolation2d(nn.Module):
    """Gaussian blur (sigma = (1/scale - 1)/2, kernel 2*round(4 sigma)+1) then subsampling by `scale`.

    The blur kernel is a buffer named `weight` (it is in the official state dicts). `subsample` picks how
    the blurred map is reduced: "stride" keeps every int(1/scale)-th pixel (FOMM, MRAA), "nearest" calls
    `F.interpolate(scale_factor=scale)` (TPSMM, MRFA).
    """

    def __init__(self, channels: int, scale: float, *, subsample: Literal["stride", "nearest"] = "stride") -> None:
        super().__init__()
        if subsample not in ("stride", "nearest"):
            raise ValueError(f"unknown subsample {subsample!r}; expected 'stride' or 'nearest'")
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        coords = torch.arange(size, dtype=torch.float32)
        profile = torch.exp(-((coords - (size - 1) / 2) ** 2) / (2 * sigma**2))
        kernel = profile[:, None] * profile[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.expand(channels, 1, size, size).clone())
        self.groups, self.scale, self.subsample = channels, scale, subsample
        self.int_inv_scale = int(1 / scale)

    def forward(self, x: Tensor) -> Tensor:
        if self.scale == 1.0:
            return x
        out = F.conv2d(
            F.pad(x, (self.ka, self.kb, self.ka, self.kb)), weight=self.weight.to(x.dtype), groups=self.groups
        )
        if self.subsample == "stride":
            return out[:, :, :: self.int_inv_scale, :: self.int_inv_scale]
        return F.interpolate(out, scale_factor=(self.scale, self.scale))


@contextlib.contextmanager
def without_autocast(device: torch.device) -> Iterator[None]:
    """Run a block in the inputs' own precision even under `torch.autocast`.

    Used for the small linear algebra of the motion models (TPS solves, 2x2 Jacobian inverses, sampling
    grids), whose results lose too much in bf16/fp16; callers pass float32 inputs.
    """
    with torch.autocast(device.type, enabled=False):
        yield


def sample(inp: Tensor, grid: Tensor, *, align_corners: bool) -> Tensor:
    """`grid_sample` in the wider of the two dtypes (a bf16 grid would move samples by ~0.1 pixel)."""
    dtype = torch.promote_types(inp.dtype, grid.dtype)
    return F.grid_sample(inp.to(dtype), grid.to(dtype), align_corners=align_corners)


def deform(inp: Tensor, deformation: Tensor, *, align_corners: bool) -> Tensor:
    """Warp `inp` (B,C,H,W) by a sampling grid (B,h,w,2) in [-1,1], resizing the grid bilinearly to H,W."""
    _, h_old, w_old, _ = deformation.shape
    _, _, h, w = inp.shape
    if (h_old, w_old) != (h, w):
        deformation = F.interpolate(
            deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=align_corners
        ).permute(0, 2, 3, 1)
    return sample(inp, deformation, align_corners=align_corners)


def to_homogeneous(coordinates: Tensor) -> Tensor:
    """(..., 2) -> (..., 3) with a trailing 1."""
    return torch.cat([coordinates, torch.ones_like(coordinates[..., :1])], dim=-1)


def from_homogeneous(coordinates: Tensor) -> Tensor:
    """(..., 3) -> (..., 2) by division by the last coordinate."""
    return coordinates[..., :2] / coordinates[..., 2:3]
