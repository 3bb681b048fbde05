"""The occlusion-aware encoder-decoder generator of FOMM and MRAA (Johnson-style: down blocks, residual
bottleneck, up blocks), rendering the source under a given deformation and occlusion map.

Parameter names: `first`, `down_blocks.*`, `up_blocks.*`, `bottleneck.r<i>.*`, `final`. FOMM warps only the
bottleneck features; MRAA (`skips=True`) also blends every encoder level and the source image itself,
out = warp(skip) * occlusion + out * (1 - occlusion). The motion network is added by the model package under
its official attribute name (`dense_motion_network`, `pixelwise_flow_predictor`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.layers import DownBlock2d, Norm, ResBlock2d, SameBlock2d, UpBlock2d, deform


class OcclusionAwareGenerator(nn.Module):
    """Encoder-bottleneck-decoder that renders a source image (B,C,H,W) under a deformation (B,h,w,2)."""

    def __init__(
        self,
        num_channels: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        num_bottleneck_blocks: int,
        *,
        skips: bool = False,
        norm: Norm = "batch",
        align_corners: bool = False,
    ) -> None:
        super().__init__()

        def width(level: int) -> int:
            return min(max_features, block_expansion * (2**level))

        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3), norm=norm)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(width(i), width(i + 1), kernel_size=(3, 3), padding=(1, 1), norm=norm)
            for i in range(num_down_blocks)
        )
        self.up_blocks = nn.ModuleList(
            UpBlock2d(
                width(num_down_blocks - i),
                width(num_down_blocks - i - 1),
                kernel_size=(3, 3),
                padding=(1, 1),
                norm=norm,
            )
            for i in range(num_down_blocks)
        )
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(
                f"r{i}", ResBlock2d(width(num_down_blocks), kernel_size=(3, 3), padding=(1, 1), norm=norm)
            )
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.skips, self.align_corners = skips, align_corners

    def _occlusion_at(self, occlusion: Tensor, reference: Tensor) -> Tensor:
        if occlusion.shape[2:] != reference.shape[2:]:
            return F.interpolate(occlusion, size=reference.shape[2:], mode="bilinear", align_corners=self.align_corners)
        return occlusion

    def _warp_blend(
        self, skip: Tensor, previous: Tensor | None, deformation: Tensor, occlusion: Tensor | None
    ) -> Tensor:
        warped = deform(skip, deformation, align_corners=self.align_corners)
        if occlusion is None:
            return warped
        occlusion = self._occlusion_at(occlusion, warped)
        if previous is None:
            return warped * occlusion
        return warped * occlusion + previous * (1 - occlusion)

    def encode(self, source_image: Tensor) -> list[Tensor]:
        """The source's feature pyramid (first conv, then each down block): what `render` warps."""
        levels = [self.first(source_image)]
        for block in self.down_blocks:
            levels.append(block(levels[-1]))
        return levels

    def render(
        self, source_image: Tensor, deformation: Tensor, occlusion: Tensor | None, levels: list[Tensor] | None = None
    ) -> dict[str, Tensor]:
        """{'deformed': source warped by the deformation, 'prediction' (B,C,H,W) in [0,1]}.

        `levels`: `encode(source_image)` when the caller already has it (one source, many driving frames).
        """
        levels = self.encode(source_image) if levels is None else levels
        out = self._warp_blend(levels[-1], None, deformation, occlusion)
        out = self.bottleneck(out)
        for i, block in enumerate(self.up_blocks):
            if self.skips:
                out = self._warp_blend(levels[-(i + 1)], out, deformation, occlusion)
            out = block(out)
        if self.skips:
            out = self._warp_blend(levels[0], out, deformation, occlusion)
        out = torch.sigmoid(self.final(out))
        if self.skips:
            out = self._warp_blend(source_image, out, deformation, occlusion)
        deformed = deform(source_image, deformation, align_corners=self.align_corners)
        return {"deformed": deformed, "prediction": out}
