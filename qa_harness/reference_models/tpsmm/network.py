"""Thin-Plate Spline Motion Model (Zhao & Zhang, CVPR 2022), built from the official YAML config.

Mirrors Thin-Plate-Spline-Motion-Model `modules/` as `demo.py`/`run.py` instantiate them:
`InpaintingNetwork(**generator_params, **common_params)`, `KPDetector(**common_params)` (torchvision
resnet18 -> 5K points), `DenseMotionNetwork(**common_params, **dense_motion_params)`, `BGMotionPredictor()`
when `bg`, `AVDNetwork(num_tps, **avd_network_params)`. InstanceNorm2d(affine=True) in the util blocks,
`align_corners=True` everywhere, nearest subsampling after the anti-alias blur.
Checkpoint keys: `inpainting_network`, `dense_motion_network`, `kp_detector`, `bg_predictor` (when `bg`);
`avd_network` is loaded when present. Optimizers and `epoch` are training state.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.reference_models.blocks.avd import AVDCore
from qa_harness.reference_models.blocks.backbones import ResNet18, ResNetBGMotionPredictor
from qa_harness.reference_models.blocks.layers import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d, deform
from qa_harness.reference_models.blocks.tps import TPSDenseMotionNetwork


class KPDetector(nn.Module):
    """ResNet-18 regressing 5K points in [-1,1]: (B,3,H,W) -> (B,5K,2). Attribute `fg_encoder`."""

    def __init__(self, num_tps: int, **_: Any) -> None:
        super().__init__()
        self.num_tps = num_tps
        self.fg_encoder = ResNet18(num_outputs=num_tps * 5 * 2)

    def forward(self, image: Tensor) -> Tensor:
        return (torch.sigmoid(self.fg_encoder(image).float()) * 2 - 1).view(image.shape[0], self.num_tps * 5, 2)


class InpaintingNetwork(nn.Module):
    """Encoder whose every level is warped and occluded, decoded with skip connections (official
    `InpaintingNetwork`); `forward(source, deformation, occlusion maps (sigmoid, coarse to fine))`."""

    def __init__(
        self,
        num_channels: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        multi_mask: bool = True,
        **_: Any,
    ) -> None:
        super().__init__()
        self.num_down_blocks, self.multi_mask = num_down_blocks, multi_mask
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3), norm="instance")
        down, up, res = [], [], []
        for i in range(num_down_blocks):
            in_features = min(max_features, block_expansion * (2**i))
            out_features = min(max_features, block_expansion * (2 ** (i + 1)))
            down.append(DownBlock2d(in_features, out_features, kernel_size=(3, 3), padding=(1, 1), norm="instance"))
            decoder_in = out_features if i == num_down_blocks - 1 else out_features * 2
            up.append(UpBlock2d(decoder_in, in_features, kernel_size=(3, 3), padding=(1, 1), norm="instance"))
            res += [ResBlock2d(decoder_in, kernel_size=(3, 3), padding=(1, 1), norm="instance") for _ in range(2)]
        self.down_blocks = nn.ModuleList(down)
        self.up_blocks = nn.ModuleList(up[::-1])
        self.resblock = nn.ModuleList(res[::-1])
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))

    def _occlude(self, features: Tensor, occlusion: Tensor) -> Tensor:
        if not self.multi_mask and occlusion.shape[2:] != features.shape[2:]:
            occlusion = nn.functional.interpolate(
                occlusion, size=features.shape[2:], mode="bilinear", align_corners=True
            )
        return features * occlusion

    def encode(self, source_image: Tensor) -> list[Tensor]:
        """The source's feature pyramid (first conv, then each down block): what `forward` warps."""
        levels = [self.first(source_image)]
        for block in self.down_blocks:
            levels.append(block(levels[-1]))
        return levels

    def forward(
        self,
        source_image: Tensor,
        deformation: Tensor,
        occlusion: list[Tensor],
        levels: list[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """`levels`: `encode(source_image)` when the caller already has it (one source, many driving frames)."""
        levels = self.encode(source_image) if levels is None else levels
        out = self._occlude(deform(levels[-1], deformation, align_corners=True), occlusion[0])
        for i in range(self.num_down_blocks):
            out = self.up_blocks[i](self.resblock[2 * i + 1](self.resblock[2 * i](out)))
            skip = deform(levels[-(i + 2)], deformation, align_corners=True)
            skip = self._occlude(skip, occlusion[i + 1 if self.multi_mask else 0])
            if i < self.num_down_blocks - 1:
                out = torch.cat([out, skip], 1)
        deformed = deform(source_image, deformation, align_corners=True)
        last = occlusion[-1]
        if not self.multi_mask:
            last = nn.functional.interpolate(last, size=out.shape[2:], mode="bilinear", align_corners=True)
        out = torch.sigmoid(self.final(out * (1 - last) + skip))
        return {"deformed": deformed, "prediction": out * (1 - last) + deformed * last}


class AVDNetwork(AVDCore):
    """Animation via disentanglement: (source points, driving points) (B,5K,2) -> retargeted points."""

    def __init__(self, num_tps: int, id_bottle_size: int = 64, pose_bottle_size: int = 64) -> None:
        super().__init__(10 * num_tps, id_bottle_size, pose_bottle_size)

    def forward(self, kp_source: Tensor, kp_random: Tensor) -> Tensor:
        b = kp_source.shape[0]
        return super().forward(kp_source.reshape(b, -1), kp_random.reshape(b, -1)).view(b, -1, 2)


class TPSMM(nn.Module):
    """All TPSMM sub-networks under their checkpoint keys."""

    def __init__(self, model_params: dict[str, Any]) -> None:
        super().__init__()
        common = model_params["common_params"]
        self.bg = bool(common.get("bg", False))
        self.inpainting_network = InpaintingNetwork(**model_params["generator_params"], **common)
        self.kp_detector = KPDetector(**common)
        self.dense_motion_network = TPSDenseMotionNetwork(**common, **model_params["dense_motion_params"])
        self.bg_predictor = ResNetBGMotionPredictor() if self.bg else None
        self.avd_network = AVDNetwork(common["num_tps"], **model_params.get("avd_network_params", {}))

    def checkpoint_networks(self) -> dict[str, nn.Module]:
        networks = {
            "inpainting_network": self.inpainting_network,
            "kp_detector": self.kp_detector,
            "dense_motion_network": self.dense_motion_network,
        }
        return networks | ({"bg_predictor": self.bg_predictor} if self.bg else {})

    def optional_networks(self) -> dict[str, nn.Module]:
        return {"avd_network": self.avd_network}

    def generate(
        self,
        source_image: Tensor,
        kp_driving: Tensor,
        kp_source: Tensor,
        bg_param: Tensor | None = None,
        source_levels: list[Tensor] | None = None,
    ) -> dict[str, Any]:
        """Dense motion + inpainting; occlusion maps returned as probabilities (official outputs).
        `source_levels`: `inpainting_network.encode(source_image)`, when the caller has it."""
        motion = self.dense_motion_network(source_image, kp_driving, kp_source, bg_param)
        occlusion = [torch.sigmoid(logits) for logits in motion["occlusion"]]
        rendered = self.inpainting_network(source_image, motion["deformation"], occlusion, source_levels)
        return {
            "contribution_maps": motion["contribution_maps"],
            "deformed_source": motion["deformed_source"],
            "deformation": motion["deformation"],
            "occlusion_map": occlusion,
        } | rendered

    def forward(self, source_image: Tensor, driving_image: Tensor) -> dict[str, Any]:
        """Reconstruction as official `reconstruction.py`: absolute points, background motion when `bg`."""
        kp_source, kp_driving = self.kp_detector(source_image), self.kp_detector(driving_image)
        bg_param = self.bg_predictor(source_image, driving_image) if self.bg else None
        out = self.generate(source_image, kp_driving, kp_source, bg_param)
        return {"kp_source": kp_source, "kp_driving": kp_driving, "bg_param": bg_param} | out
