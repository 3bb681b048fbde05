"""Animation-via-disentanglement MLPs (TPSMM and MRAA `AVDNetwork`): identity and pose encoders and a
decoder, with the official parameter names (`id_encoder.*`, `pose_encoder.*`, `decoder.*`).

The repositories differ only in what they flatten into the input vector (TPSMM: 5K points; MRAA: shift
and affine per region), so this module takes flat vectors and the adapters do the packing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _mlp(sizes: list[int], *, inplace: bool) -> nn.Sequential:
    """Linear-BN-ReLU stack over `sizes`, ending with a bare Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=inplace)]
    return nn.Sequential(*layers)


class AVDCore(nn.Module):
    """(id vector, pose vector), both (B,input_size) -> reconstructed pose vector (B,input_size)."""

    def __init__(self, input_size: int, id_bottle_size: int = 64, pose_bottle_size: int = 64) -> None:
        super().__init__()
        self.id_encoder = _mlp([input_size, 256, 512, 1024, id_bottle_size], inplace=True)
        self.pose_encoder = _mlp([input_size, 256, 512, 1024, pose_bottle_size], inplace=True)
        self.decoder = _mlp([pose_bottle_size + id_bottle_size, 1024, 512, 256, input_size], inplace=False)

    def forward(self, x_id: Tensor, x_pose: Tensor) -> Tensor:
        return self.decoder(torch.cat([self.pose_encoder(x_pose), self.id_encoder(x_id)], dim=1))
