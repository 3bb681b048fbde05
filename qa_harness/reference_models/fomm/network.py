"""First Order Motion Model (Siarohin et al., NeurIPS 2019), built from the official YAML config.

Mirrors first-order-model `modules/generator.py` (`OcclusionAwareGenerator`, which owns the
`dense_motion_network`) and `modules/keypoint_detector.py` (`KPDetector`), as instantiated by `demo.py`:
`generator_params + common_params` and `kp_detector_params + common_params`. BatchNorm everywhere (the
official `SynchronizedBatchNorm2d` has the same state-dict keys); `grid_sample`/`interpolate` with the torch
default `align_corners=False`, which is what the official code runs with under torch >= 1.3.
Checkpoint top-level keys used: `generator`, `kp_detector` (`discriminator` and optimizers are training
state).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.reference_models.blocks.generator import OcclusionAwareGenerator
from qa_harness.reference_models.blocks.keypoints import Keypoints, KPDetector
from qa_harness.reference_models.blocks.motion import DenseMotionNetwork


class Generator(OcclusionAwareGenerator):
    """FOMM generator: dense motion from keypoints, then the occlusion-aware encoder-decoder."""

    def __init__(
        self,
        num_channels: int,
        num_kp: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        num_bottleneck_blocks: int,
        estimate_occlusion_map: bool = False,
        dense_motion_params: dict[str, Any] | None = None,
        estimate_jacobian: bool = False,
    ) -> None:
        super().__init__(num_channels, block_expansion, max_features, num_down_blocks, num_bottleneck_blocks)
        if dense_motion_params is None:
            raise ValueError("generator_params.dense_motion_params is required (no official config omits it)")
        self.dense_motion_network = DenseMotionNetwork(
            num_kp=num_kp,
            num_channels=num_channels,
            estimate_occlusion_map=estimate_occlusion_map,
            **dense_motion_params,
        )

    def forward(
        self,
        source_image: Tensor,
        kp_driving: Keypoints,
        kp_source: Keypoints,
        source_levels: list[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """{'mask', 'sparse_deformed', 'occlusion_map' (sigmoid), 'deformation', 'deformed', 'prediction'};
        `source_levels`: `encode(source_image)`, when the caller has it."""
        motion = self.dense_motion_network(source_image, kp_driving, kp_source)
        occlusion = torch.sigmoid(motion["occlusion"]) if "occlusion" in motion else None
        out = {
            "mask": motion["mask"],
            "sparse_deformed": motion["sparse_deformed"],
            "deformation": motion["deformation"],
        }
        if occlusion is not None:
            out["occlusion_map"] = occlusion
        return out | self.render(source_image, motion["deformation"], occlusion, source_levels)


class FOMM(nn.Module):
    """Keypoint detector + generator; `checkpoint_networks()` maps checkpoint keys to sub-networks."""

    def __init__(self, model_params: dict[str, Any]) -> None:
        super().__init__()
        common = model_params["common_params"]
        self.kp_detector = KPDetector(**model_params["kp_detector_params"], **common)
        self.generator = Generator(**model_params["generator_params"], **common)

    def checkpoint_networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "kp_detector": self.kp_detector}

    def forward(self, source_image: Tensor, driving_image: Tensor) -> dict[str, Any]:
        """Absolute-keypoint reconstruction of one batch: the official `generator(source, kp_d, kp_s)`."""
        kp_source, kp_driving = self.kp_detector(source_image), self.kp_detector(driving_image)
        return {
            "kp_source": kp_source,
            "kp_driving": kp_driving,
            **self.generator(source_image, kp_driving, kp_source),
        }
