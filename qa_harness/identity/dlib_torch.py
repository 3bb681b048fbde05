"""dlib's face-recognition ResNet v1 in torch: the same forward as dlib's `anet_type`, batched, any device.

The rules reproduced from dlib (dlib/dnn/layers.h, input.h, cuda/cpu_dlib.cpp):
- input_rgb_image_sized<150>: (pixel - mean of the channel) / 256, mean (122.782, 117.001, 104.298);
- con_ and max_pool_/avg_pool_ pad by size // 2 at stride 1 and not at all at stride 2 (so 150 -> 72 by
  the 7x7 stem, 35 by the 3x3 max pool, 17, 8, 3 by the strided 3x3 convolutions);
- affine_ (batch norm at inference): x * scale[c] + shift[c];
- add_prev_ sums two tensors of different shapes over their overlap, zero elsewhere (the output has the
  larger channel count and size): where the resolution halves, the skip path (2x2 average pool of the
  block input, fewer channels) and the block output (8 -> 3 by the convolution, 4 by the pool) differ;
- avg_pool_everything then fc_no_bias<128>; loss_metric returns that vector unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.identity.dlib_dat import BLOCKS, read_dat

CHIP = 150


class _Affine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(channels))
        self.register_buffer("shift", torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return torch.addcmul(self.shift[:, None, None], x, self.scale[:, None, None])


def _conv(inputs: int, outputs: int, size: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, size, stride, padding=0 if stride != 1 else size // 2)


def add_overlap(a: Tensor, b: Tensor) -> Tensor:
    """dlib's add_prev_: a + b over the overlap of their (C, H, W), zero-padded to the larger of each."""
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def grow(t: Tensor) -> Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, shape[2] - w, 0, shape[1] - h, 0, shape[0] - c))

    return grow(a) + grow(b)


class _Residual(nn.Module):
    """relu(add_prev(block(x), skip(x))): block = affine<con3x3 s1<relu<affine<con3x3 stride>>>>."""

    def __init__(self, inputs: int, filters: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv_a, self.bn_a = _conv(inputs, filters, 3, 2 if down else 1), _Affine(filters)
        self.conv_b, self.bn_b = _conv(filters, filters, 3, 1), _Affine(filters)

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn_b(self.conv_b(F.relu(self.bn_a(self.conv_a(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_overlap(y, skip) if self.down else y + skip)


class _Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = _conv(3, 32, 7, 2), _Affine(32)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 3, 2)


class DlibFaceNet(nn.Module):
    """(N, 3, 150, 150) uint8 or float 0-255 RGB aligned chips (dlib.get_face_chip) -> (N, 128) float32."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]))
        self.stem = _Stem()
        widths = [32, *(b.filters for b in BLOCKS)]
        self.blocks = nn.Sequential(*(_Residual(widths[i], b.filters, b.down) for i, b in enumerate(BLOCKS)))
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, chips: Tensor) -> Tensor:
        if chips.shape[1:] != (3, CHIP, CHIP):
            raise ValueError(f"DlibFaceNet: expected (N, 3, {CHIP}, {CHIP}) chips, got {tuple(chips.shape)}")
        x = (chips.to(self.mean.dtype) - self.mean[:, None, None]) / 256
        x = x.contiguous(memory_format=torch.channels_last)  # ~1.4x faster convolutions on CPU; same values
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))

    @staticmethod
    def from_dat(path: Path, device: torch.device | str = "cpu") -> DlibFaceNet:
        """The network with dlib's weights read from `path` (`read_dat`); eval mode, on `device`."""
        arrays = read_dat(path)
        arrays["mean"] = arrays.pop("input.mean")
        net = DlibFaceNet()
        net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
        return net.eval().to(device, memory_format=torch.channels_last)
