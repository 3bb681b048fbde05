"""MRAA as an Animator: official config and checkpoint (`generator`, `region_predictor`, `bg_predictor`;
`avd_network` when present) loaded unchanged.

Absolute mode follows the official `reconstruction.py` (background motion from `bg_predictor` every frame);
relative mode follows `demo.py --mode relative` (`animate.get_animation_region_params`: convex-hull movement
scale, affine J_d J_init^-1 J_s, the driving's covariances, no background motion).
Options as `qa_harness.models.fomm` (default config 'vox256'); cache file
`$QA_HARNESS_WEIGHTS/mraa/<config>.pth`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.models._reference import ReferenceAnimator, SourceState, build_animator
from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.mraa import SPEC


class MRAAAnimator(ReferenceAnimator):
    def detect(self, frames: Tensor) -> Keypoints:
        return self.network.regions(frames)

    def source_encoder(self) -> nn.Module:
        return self.network.generator

    def render(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Tensor:
        n = driving.shape[0]
        sources = state.source.expand(n, -1, -1, -1)
        bg_params = None if self.relative else self.network.bg_predictor(sources, driving)
        generator = self.network.generator
        levels = self.source_levels(state, n)
        return generator(sources, kp_driving, state.kp_source.expand(n), bg_params, levels)["prediction"]


def build(*, checkpoint: Path | None = None, device: torch.device | str = "cpu", **options: Any) -> MRAAAnimator:
    return build_animator(MRAAAnimator, SPEC, checkpoint=checkpoint, device=device, options=options)
