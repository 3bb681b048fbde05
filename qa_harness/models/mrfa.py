"""MRFA (NeurIPS 2023) as an `Animator`: official config and checkpoint, batched over driving frames.

Options (as for the other reference models, `qa_harness.models._reference`): `config` (vox1 default,
celebvhq, or a YAML path), `relative` / `adapt_movement_scale` (the official `animate_ddp.py` / `demo.py`
relative motion with relative Jacobians), `autocast` ('bf16' | 'fp16'), `trust_checkpoint`; and for MRFA:
`iterations` (refined pyramid levels 0..6, default 6 = the official model; the quality/cost knob, see
`qa_harness.reference_models.mrfa.raft.RaftFlow`) and `max_batch` (driving frames per network call, bounding memory:
the correlation volume alone is 64 MB per frame at 256x256).

Absolute (reconstruction) mode is the official `forward(x, is_train=False)`, including the background
motion predictor when the config has one (celebvhq); relative mode, like the official animation code,
uses none. Without `checkpoint` the file is `$QA_HARNESS_WEIGHTS/mrfa/<config>.pth`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.errors import ConfigError, QaHarnessError
from qa_harness.models._reference import ReferenceAnimator, SourceState, build_animator
from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.mrfa import SPEC
from qa_harness.reference_models.mrfa.raft import NUM_LEVELS, Refined
from qa_harness.reference_models.spec import ReferenceSpec

#: MRFA's options beyond the shared ones.
EXTRA_OPTIONS = ("iterations", "max_batch")


class MRFAAnimator(ReferenceAnimator):
    def __init__(
        self, spec: ReferenceSpec, *, iterations: int | str = NUM_LEVELS, max_batch: int | str = 8, **options: Any
    ) -> None:
        iterations, max_batch = int(iterations), int(max_batch)
        if not 0 <= iterations <= NUM_LEVELS:
            raise ConfigError(f"model {spec.name}", "iterations", f"must be in 0..{NUM_LEVELS}, got {iterations}")
        if max_batch < 1:
            raise ConfigError(f"model {spec.name}", "max_batch", f"must be at least 1, got {max_batch}")
        super().__init__(spec, **options)
        self.iterations, self.max_batch = iterations, max_batch
        self.resolution = self.network.size

    def _check(self, frames: Tensor, what: str) -> Tensor:
        """Frames must have the config's side: MTIA's position embedding and the refinement's level
        sizes are fixed by `raft_flow.size` / `mtia_kp_detector.MODEL.IMAGE_SIZE`."""
        if frames.shape[-1] != self.resolution:
            raise QaHarnessError(
                f"{self.name}: {what} must be {self.resolution}x{self.resolution} frames (the "
                f"config's raft_flow.size), got shape {tuple(frames.shape)}"
            )
        return super()._check(frames, what)

    def detect(self, frames: Tensor) -> Keypoints:
        return self.network.keypoints(frames)

    def refine(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Refined:
        """The full network output for a batch of driving frames (flows, occlusions, prediction)."""
        n = driving.shape[0]
        sources = state.source.expand(n, -1, -1, -1)
        bg_param = None
        if self.network.use_bg and not self.relative:
            bg_param = self.network.bg_predictor(sources, driving)
        features = self.source_levels(state, n)
        return self.network.animate(
            sources,
            state.kp_source.expand(n),
            kp_driving,
            bg_param=bg_param,
            iterations=self.iterations,
            source_features=features,
        )

    def source_encoder(self) -> nn.Module:
        return self.network.decoder.generator

    def render(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Tensor:
        return self.refine(state, kp_driving, driving).prediction

    def animate(self, state: SourceState, driving: Tensor) -> Tensor:
        base = super().animate
        return torch.cat([base(state, chunk) for chunk in driving.split(self.max_batch)])


def build(*, checkpoint: Path | None = None, device: torch.device | str = "cpu", **options: Any) -> MRFAAnimator:
    return build_animator(
        MRFAAnimator, SPEC, checkpoint=checkpoint, device=device, options=options, extra_options=EXTRA_OPTIONS
    )
