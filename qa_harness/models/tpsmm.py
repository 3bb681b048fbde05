"""TPSMM as an Animator: official config and checkpoint (`inpainting_network`, `dense_motion_network`,
`kp_detector`, `bg_predictor` when the config has `bg`; `avd_network` when present) loaded unchanged.

Absolute mode follows the official `reconstruction.py` (background motion from `bg_predictor` every frame);
relative mode follows `demo.py --mode relative` (convex-hull movement scale, no background motion).
Options as `qa_harness.models.fomm`; cache file `$QA_HARNESS_WEIGHTS/tpsmm/<dataset>.pth.tar`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.models._reference import ReferenceAnimator, SourceState, build_animator
from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.tpsmm import SPEC


class TPSMMAnimator(ReferenceAnimator):
    def detect(self, frames: Tensor) -> Keypoints:
        return Keypoints(self.network.kp_detector(frames))

    def source_encoder(self) -> nn.Module:
        return self.network.inpainting_network

    def render(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Tensor:
        n = driving.shape[0]
        sources = state.source.expand(n, -1, -1, -1)
        bg_param = None
        if self.network.bg and not self.relative:
            bg_param = self.network.bg_predictor(sources, driving)
        levels = self.source_levels(state, n)
        out = self.network.generate(sources, kp_driving.value, state.kp_source.expand(n).value, bg_param, levels)
        return out["prediction"]


def build(*, checkpoint: Path | None = None, device: torch.device | str = "cpu", **options: Any) -> TPSMMAnimator:
    return build_animator(TPSMMAnimator, SPEC, checkpoint=checkpoint, device=device, options=options)
