"""The MRFA network as the official `MRFA` module builds it, for inference.

Official: `modules/model.py` (JialeTao/MRFA at 20f935f). Top-level attributes = state-dict prefixes:
`encoder` and `dense_motion` (the prior motion model, `train_params.prior_model`), `bg_predictor` (only
when `bg_start < num_epochs`), `decoder` (refinement + generator, config `raft_flow`) and `down`
(anti-aliased x0.25 downsampling of the source for the structure encoder). The official `vgg` (VGG19
perceptual loss, ImageNet weights downloaded at construction) and `pyramid` (loss image pyramid) serve
training only and are not built here; their checkpoint entries are skipped when loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from qa_harness.reference_models.blocks.backbones import ResNetBGMotionPredictor
from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.blocks.layers import AntiAliasInterpolation2d
from qa_harness.reference_models.mrfa.priors import build_prior, prior_motion, refinement_keypoints
from qa_harness.reference_models.mrfa.raft import NUM_LEVELS, RaftFlow, Refined

#: The `epoch` the official `MRFA.forward` defaults to at inference: the background motion predictor
#: is used when `bg_start <= epoch` (celebvhq: bg_start 0, used; vox1: bg_start 1000, absent).
INFERENCE_EPOCH = 100


class MRFA(nn.Module):
    """MRFA for inference: keypoints -> prior motion -> refined motion -> generated frame.

    Frames are (B,3,size,size) float RGB in [0,1]. `iterations` (0..6) is the number of refined
    pyramid levels (see `RaftFlow`); 6, the default, is the official model.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        train = config["train_params"]
        self.prior_model = train.get("prior_model", "mtia")
        self.encoder, self.dense_motion = build_prior(config, self.prior_model)
        if train["bg_start"] < train["num_epochs"]:
            self.bg_predictor = ResNetBGMotionPredictor()
        self.use_bg = train["bg_start"] < train["num_epochs"] and train["bg_start"] <= INFERENCE_EPOCH
        self.decoder = RaftFlow(**config["raft_flow"])
        self.down = AntiAliasInterpolation2d(3, 0.25, subsample="nearest")
        self.size = config["raft_flow"]["size"]

    def checkpoint_networks(self) -> dict[str, nn.Module]:
        """Top-level checkpoint key -> module (the official file holds the whole MRFA under 'model')."""
        return {"model": self}

    def keypoints(self, frames: Tensor) -> Keypoints:
        """Prior keypoints of frames: (B,K,2) (+ Jacobians for mtia/fomm; (B,5K,2) for tpsm)."""
        return self.encoder(frames)

    def animate(
        self,
        source: Tensor,
        kp_source: Keypoints,
        kp_driving: Keypoints,
        *,
        bg_param: Tensor | None = None,
        iterations: int = NUM_LEVELS,
        source_features: list[Tensor] | None = None,
    ) -> Refined:
        """The source moved to the driving keypoints; source and keypoints batched alike (`source_features`:
        `decoder.generator.encode(source)`, when the caller has it)."""
        deformation, occlusion = prior_motion(
            self.prior_model, self.dense_motion, source, kp_driving, kp_source, bg_param
        )
        return self.decoder(
            refinement_keypoints(self.prior_model, kp_source),
            refinement_keypoints(self.prior_model, kp_driving),
            deformation,
            occlusion,
            self.down(source),
            source,
            iterations=iterations,
            source_features=source_features,
        )

    def forward(self, source: Tensor, driving: Tensor, *, iterations: int = NUM_LEVELS) -> Refined:
        """Reconstruction as the official `forward(x, is_train=False)`: absolute driving keypoints, and the
        background motion predictor when the config enables it."""
        bg_param = self.bg_predictor(source, driving) if self.use_bg else None
        return self.animate(
            source, self.keypoints(source), self.keypoints(driving), bg_param=bg_param, iterations=iterations
        )
