"""MRFA's occlusion-aware generator: a feature pyramid of the source, decoded from warped features.

Official: `modules/generator.py` (`OcclusionAwareGenerator`, attribute `decoder.generator`) of
JialeTao/MRFA at 20f935f. `encode` returns the source features coarse to fine (e.g. at 256x256 input:
8x8x512, 16x16x512, 32x32x512, 64x64x256, 128x128x128, 256x256x64). `decode` starts from the coarsest
warped feature (times its occlusion map), and at every finer level runs channel reduction (only when
prior-warped features are concatenated), a residual block, an up block, then blends:
out = warped * occ + out * (1 - occ). The final 7x7 conv + sigmoid output is blended with the warped
source image by the finest occlusion map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.layers import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d


class ChannelBlock2d(nn.Module):
    """BN - ReLU - conv halving the channels (2C -> C): merges refined and prior-warped features."""

    def __init__(self, in_features: int, kernel_size, padding) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features // 2, kernel_size=kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm2d(in_features, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv1(F.relu(self.norm1(x)))


class OcclusionAwareGenerator(nn.Module):
    """Source encoder and occlusion-aware decoder; parameter names as the official module."""

    def __init__(self, num_channels: int, block_expansion: int, max_features: int, num_up_blocks: int) -> None:
        super().__init__()
        self.num_up_blocks = num_up_blocks
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3))
        widths = [min(max_features, block_expansion * 2**i) for i in range(num_up_blocks + 1)]
        self.feature_channels = widths[::-1]
        pairs = list(zip(widths[:-1], widths[1:], strict=True))
        k3 = {"kernel_size": (3, 3), "padding": (1, 1)}
        self.down_blocks = nn.ModuleList(DownBlock2d(cin, cout, **k3) for cin, cout in pairs)
        coarse_first = pairs[::-1]
        self.up_blocks = nn.ModuleList(UpBlock2d(cout, cin, **k3) for cin, cout in coarse_first)
        self.resblock = nn.ModuleList(ResBlock2d(cout, **k3) for _, cout in coarse_first)
        self.channel_block = nn.ModuleList(ChannelBlock2d(2 * cout, **k3) for _, cout in coarse_first)
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))

    def encode(self, x: Tensor) -> list[Tensor]:
        """(B,C,H,W) source -> num_up_blocks + 1 feature maps, coarsest (H / 2^num_up_blocks) first."""
        features = [self.first(x)]
        for block in self.down_blocks:
            features.append(block(features[-1]))
        return features[::-1]

    def decode(
        self,
        warped: list[Tensor],
        warped_image: Tensor,
        occlusion: list[Tensor],
        prior_warped: list[Tensor] | None = None,
    ) -> Tensor:
        """Warped features and occlusion maps (coarse to fine, probabilities) -> (B,C,H,W) in [0,1].

        `prior_warped`: the same features warped by the prior motion, concatenated after each blend
        except the finest (None in the official `prior_only` mode).
        """
        out = warped[0] * occlusion[0]
        if prior_warped is not None:
            out = torch.cat([out, prior_warped[0]], dim=1)
        for i in range(self.num_up_blocks):
            if prior_warped is not None:
                out = self.channel_block[i](out)
            out = self.up_blocks[i](self.resblock[i](out))
            out = warped[i + 1] * occlusion[i + 1] + out * (1 - occlusion[i + 1])
            if prior_warped is not None and i != self.num_up_blocks - 1:
                out = torch.cat([out, prior_warped[i + 1]], dim=1)
        out = torch.sigmoid(self.final(out))
        return out * (1 - occlusion[-1]) + warped_image * occlusion[-1]
