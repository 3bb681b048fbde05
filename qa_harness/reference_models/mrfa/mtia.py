"""MTIA keypoint detector: HRNet features + TokenPose transformer (`TokenPose_B` in the official code).

MRFA's default prior motion model (`train_params.prior_model: mtia`) detects K keypoints with local
affine Jacobians using this network, built from the config section `mtia_kp_detector.MODEL`. Parameter
names reproduce `encoder.*` of the official MRFA state dict (JialeTao/MRFA at 20f935f,
`modules/transformer/pose_tokenpose_b.py`): `pre_feature.*` (HRNet) and `transformer.*` (TokenPose).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.reference_models.blocks.keypoints import Keypoints
from qa_harness.reference_models.mrfa.hrnet import HRNetBase
from qa_harness.reference_models.mrfa.tokenpose import POS_EMBEDDINGS, TokenPoseHead

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class MTIAKeypointDetector(nn.Module):
    """(B,3,S,S) frames in [0,1] -> Keypoints(value (B,K,2) in [-1,1] (x, y), jacobian (B,K,2,2)).

    S is `MODEL.IMAGE_SIZE`; the transformer sees the HRNet output (stride 4) cut into
    `PATCH_SIZE` patches, so the frame size is fixed by the config.
    """

    def __init__(self, model_cfg: Mapping[str, Any]) -> None:
        super().__init__()
        pos = model_cfg["POS_EMBEDDING_TYPE"]
        if pos not in POS_EMBEDDINGS:
            raise ValueError(
                f"mtia_kp_detector.MODEL.POS_EMBEDDING_TYPE: unknown value {pos!r}; "
                f"expected one of {', '.join(POS_EMBEDDINGS)}"
            )
        self.normalize_input = bool(model_cfg["DATA_PREPROCESS"])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        image_w, image_h = model_cfg["IMAGE_SIZE"]
        patch_w, patch_h = model_cfg["PATCH_SIZE"]
        heads, dim = model_cfg["TRANSFORMER_HEADS"], model_cfg["DIM"]
        self.pre_feature = HRNetBase(model_cfg["EXTRA"])
        self.transformer = TokenPoseHead(
            feature_size=(image_h // 4, image_w // 4),
            patch_size=(patch_h, patch_w),
            num_keypoints=model_cfg["NUM_JOINTS"],
            dim=dim,
            depth=model_cfg["TRANSFORMER_DEPTH"],
            heads=heads,
            mlp_dim=dim * model_cfg["TRANSFORMER_MLP_RATIO"],
            channels=model_cfg["BASE_CHANNEL"],
            pos_embedding=pos,
            estimate_jacobian=bool(model_cfg["ESTIMATE_JACOBIAN"]),
            fix_img2motion_attention=bool(model_cfg["FIX_IMG2MOTION_ATTENTION"]),
        )

    def forward(self, x: Tensor) -> Keypoints:
        if self.normalize_input:
            x = (x - self.mean) / self.std
        out = self.transformer(self.pre_feature(x))
        return Keypoints(out["kp"], out.get("jacobian"))
