"""MRFA's prior motion models, selected by `train_params.prior_model`: mtia (default), fomm, tpsm.

Each prior is a keypoint detector (`encoder`) and a dense motion network (`dense_motion`) that turns
source/driving keypoints into a deformation grid (B,h,h,2) and occlusion logits (B,1,h,h) at
h = size/4; the refinement then starts from that motion. MRFA's variants of the shared blocks use
BatchNorm, nearest-neighbour anti-aliased downsampling (`F.interpolate`), a single Jacobian map in the
FOMM detector, occlusion logits (no sigmoid) and, for TPS, one occlusion map.
Official: `modules/model.py`, `modules/kp_detector.py`, `modules/dense_motion.py` (JialeTao/MRFA 20f935f).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.reference_models.blocks.backbones import ResNet18
from qa_harness.reference_models.blocks.keypoints import Keypoints, KPDetector
from qa_harness.reference_models.blocks.motion import DenseMotionNetwork
from qa_harness.reference_models.blocks.tps import TPSDenseMotionNetwork
from qa_harness.reference_models.mrfa.mtia import MTIAKeypointDetector

PRIOR_MODELS = ("mtia", "fomm", "tpsm")
#: Points per thin-plate spline in the TPS prior; the refinement uses each group's mean as one keypoint.
TPS_POINTS = 5


class TPSKeypointDetector(nn.Module):
    """ResNet-18 (`fg_encoder`, torchvision names) regressing 5 points per TPS in [-1,1]: (B, 5K, 2)."""

    def __init__(self, num_tps: int) -> None:
        super().__init__()
        self.fg_encoder = ResNet18(num_outputs=num_tps * TPS_POINTS * 2)

    def forward(self, image: Tensor) -> Keypoints:
        points = torch.sigmoid(self.fg_encoder(image)) * 2 - 1
        return Keypoints(points.view(image.shape[0], -1, 2))


def build_prior(config: Mapping[str, Any], kind: str) -> tuple[nn.Module, nn.Module]:
    """(encoder, dense_motion) for prior `kind` from the config sections of the official YAML."""
    if kind not in PRIOR_MODELS:
        raise ValueError(f"train_params.prior_model: unknown prior {kind!r}; expected one of {', '.join(PRIOR_MODELS)}")
    if kind == "tpsm":
        encoder = TPSKeypointDetector(config["tpsm_kp_detector"]["num_tps"])
        dense = TPSDenseMotionNetwork(
            **config["tpsm_dense_motion"], multi_mask=False, norm="batch", align_corners=True, subsample="nearest"
        )
        return encoder, dense
    if kind == "mtia":
        encoder = MTIAKeypointDetector(config["mtia_kp_detector"]["MODEL"])
    else:
        params = dict(config["fomm_kp_detector"])
        if params.pop("estimate_occlusion", False):
            raise ValueError("fomm_kp_detector.estimate_occlusion: True is not supported (unused by MRFA)")
        encoder = KPDetector(**params, single_jacobian_map=True, subsample="nearest")
    return encoder, DenseMotionNetwork(**config["dense_motion"], norm="batch", subsample="nearest")


def prior_motion(
    kind: str,
    dense_motion: nn.Module,
    source: Tensor,
    kp_driving: Keypoints,
    kp_source: Keypoints,
    bg_param: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """Deformation grid (B,h,h,2) and occlusion logits (B,1,h,h) of the prior motion."""
    if kind == "tpsm":
        out = dense_motion(source, kp_driving.value, kp_source.value, bg_param)
        return out["deformation"], out["occlusion"][0]
    out = dense_motion(source, kp_driving, kp_source, bg_param)
    return out["deformation"], out["occlusion"]


def refinement_keypoints(kind: str, kp: Keypoints) -> Tensor:
    """Keypoints fed to the refinement's structure encoders: the TPS groups' means for tpsm."""
    if kind == "tpsm":
        b = kp.value.shape[0]
        return kp.value.view(b, -1, TPS_POINTS, 2).mean(2)
    return kp.value
