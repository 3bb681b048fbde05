"""FOMM as an Animator: official config and checkpoint (`generator`, `kp_detector`) loaded unchanged.

Options: `config` (official name such as 'vox-256', 'taichi-256', or a YAML path; default vox-256),
`relative` / `adapt_movement_scale` (official demo relative mode), `autocast` ('bf16' | 'fp16'),
`trust_checkpoint`. Without `checkpoint` the file is looked up as
`$QA_HARNESS_WEIGHTS/fomm/<name>-cpk.pth.tar`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.models._reference import ReferenceAnimator, SourceState, build_animator
from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.fomm import SPEC


class FOMMAnimator(ReferenceAnimator):
    def detect(self, frames: Tensor) -> Keypoints:
        return self.network.kp_detector(frames)

    def source_encoder(self) -> nn.Module:
        return self.network.generator

    def render(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Tensor:
        n = driving.shape[0]
        sources = state.source.expand(n, -1, -1, -1)
        generator = self.network.generator
        levels = self.source_levels(state, n)
        return generator(sources, kp_driving, state.kp_source.expand(n), levels)["prediction"]


def build(*, checkpoint: Path | None = None, device: torch.device | str = "cpu", **options: Any) -> FOMMAnimator:
    return build_animator(FOMMAnimator, SPEC, checkpoint=checkpoint, device=device, options=options)
