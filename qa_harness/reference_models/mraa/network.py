"""Motion Representations for Articulated Animation (Siarohin et al., CVPR 2021), built from the official
YAML config.

Mirrors snap-research/articulated-animation `modules/` as `run.py`/`demo.py` instantiate them:
`RegionPredictor(num_regions, num_channels, estimate_affine, **region_predictor_params)` (hourglass + softmax
region heatmaps; affine from the SVD of each region's covariance when `pca_based`), `Generator(num_regions,
num_channels, revert_axis_swap, **generator_params)` (owns `pixelwise_flow_predictor`),
`BGMotionPredictor(num_channels, **bg_predictor_params)`, `AVDNetwork(num_regions, **avd_network_params)`.
BatchNorm everywhere; `grid_sample`/`interpolate` with the torch default `align_corners=False`.
Checkpoint keys: `generator`, `region_predictor`, `bg_predictor`; `avd_network` when present.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.reference_models.blocks.avd import AVDCore
from qa_harness.reference_models.blocks.generator import OcclusionAwareGenerator
from qa_harness.reference_models.blocks.keypoints import Keypoints, heatmap_mean, make_coordinate_grid, softmax_heatmap
from qa_harness.reference_models.blocks.layers import AntiAliasInterpolation2d, Encoder, Hourglass
from qa_harness.reference_models.blocks.motion import DenseMotionNetwork


class RegionPredictor(nn.Module):
    """Regions as soft heatmaps -> shift (B,K,2), covariance and affine (B,K,2,2), plus heatmap, u, d.

    `pca_based`: affine = U sqrt(S) from the SVD of the heatmap-weighted covariance (computed on the CPU, as
    the official code does). Otherwise, with `estimate_affine`, one regressed affine map as in FOMM.
    """

    def __init__(
        self,
        block_expansion: int,
        num_regions: int,
        num_channels: int,
        max_features: int,
        num_blocks: int,
        temperature: float,
        estimate_affine: bool = False,
        scale_factor: float = 1,
        pca_based: bool = False,
        fast_svd: bool = False,
        pad: int = 3,
    ) -> None:
        super().__init__()
        if fast_svd:
            raise ValueError("fast_svd needs the external torch_batch_svd package; official configs use False")
        self.predictor = Hourglass(block_expansion, num_channels, num_blocks=num_blocks, max_features=max_features)
        self.regions = nn.Conv2d(self.predictor.out_filters, num_regions, kernel_size=(7, 7), padding=pad)
        self.jacobian = None
        if estimate_affine and not pca_based:
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4, kernel_size=(7, 7), padding=pad)
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]))
        self.temperature, self.scale_factor, self.pca_based = temperature, scale_factor, pca_based
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if self.scale_factor != 1:
            x = self.down(x)
        features = self.predictor(x)
        heatmap = softmax_heatmap(self.regions(features).float(), self.temperature)  # fp32 under autocast
        shift = heatmap_mean(heatmap)
        out = {"shift": shift, "heatmap": heatmap}
        b, k, h, w = heatmap.shape
        if self.jacobian is not None:
            maps = self.jacobian(features).float().reshape(b, 1, 4, h, w)
            affine = (heatmap.unsqueeze(2) * maps).view(b, k, 4, -1).sum(dim=-1).view(b, k, 2, 2)
            return out | {"affine": affine, "covar": torch.matmul(affine, affine.permute(0, 1, 3, 2))}
        if not self.pca_based:
            return out
        centred = (
            make_coordinate_grid((h, w), dtype=heatmap.dtype, device=heatmap.device)[None, None]
            - shift[:, :, None, None]
        )
        covar = (torch.matmul(centred.unsqueeze(-1), centred.unsqueeze(-2)) * heatmap[..., None, None]).sum((2, 3))
        u, s, _ = torch.linalg.svd(covar.view(-1, 2, 2).float().cpu())
        u, d = u.to(covar.device), torch.diag_embed(s**0.5).to(covar.device)
        return out | {"covar": covar, "affine": torch.matmul(u, d).view(b, k, 2, 2), "u": u, "d": d}


class Generator(OcclusionAwareGenerator):
    """MRAA generator: pixel-wise flow from region motions, then the occlusion-aware encoder-decoder."""

    def __init__(
        self,
        num_channels: int,
        num_regions: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        num_bottleneck_blocks: int,
        pixelwise_flow_predictor_params: dict[str, Any] | None = None,
        skips: bool = False,
        revert_axis_swap: bool = True,
    ) -> None:
        super().__init__(
            num_channels, block_expansion, max_features, num_down_blocks, num_bottleneck_blocks, skips=skips
        )
        if pixelwise_flow_predictor_params is None:
            raise ValueError("generator_params.pixelwise_flow_predictor_params is required")
        params = dict(pixelwise_flow_predictor_params)
        params["kp_variance"] = params.pop("region_var", 0.01)
        self.pixelwise_flow_predictor = DenseMotionNetwork(
            num_kp=num_regions, num_channels=num_channels, revert_axis_swap=revert_axis_swap, **params
        )

    def forward(
        self,
        source_image: Tensor,
        driving: Keypoints,
        source: Keypoints,
        bg_params: Tensor | None = None,
        source_levels: list[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """{'optical_flow', 'occlusion_map' (sigmoid), 'deformed', 'prediction'}; `source_levels`:
        `encode(source_image)`, when the caller has it."""
        motion = self.pixelwise_flow_predictor(source_image, driving, source, bg_params)
        occlusion = torch.sigmoid(motion["occlusion"]) if "occlusion" in motion else None
        out = {"optical_flow": motion["deformation"]} | ({"occlusion_map": occlusion} if occlusion is not None else {})
        return out | self.render(source_image, motion["deformation"], occlusion, source_levels)


class BGMotionPredictor(nn.Module):
    """Background motion (B,3,3) from (source, driving): identity ('zero'), or shift/affine/perspective
    regressed by an Encoder + `fc` (official `modules/bg_motion_predictor.py`)."""

    def __init__(
        self,
        block_expansion: int,
        num_channels: int,
        max_features: int,
        num_blocks: int,
        bg_type: str = "zero",
    ) -> None:
        super().__init__()
        outputs = {"zero": 0, "shift": 2, "affine": 6, "perspective": 8}
        if bg_type not in outputs:
            raise ValueError(f"bg_type {bg_type!r} is not one of {sorted(outputs)}")
        self.bg_type = bg_type
        if bg_type != "zero":
            self.encoder = Encoder(block_expansion, num_channels * 2, num_blocks=num_blocks, max_features=max_features)
            self.fc = nn.Linear(min(max_features, block_expansion * (2**num_blocks)), outputs[bg_type])
            nn.init.zeros_(self.fc.weight)
            with torch.no_grad():
                self.fc.bias.copy_(
                    torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 0][: outputs[bg_type]] if bg_type != "shift" else [0.0, 0.0])
                )

    def forward(self, source_image: Tensor, driving_image: Tensor) -> Tensor:
        b = source_image.shape[0]
        out = torch.eye(3, dtype=source_image.dtype, device=source_image.device).repeat(b, 1, 1)
        if self.bg_type == "zero":
            return out
        prediction = self.fc(self.encoder(torch.cat([source_image, driving_image], dim=1))[-1].mean(dim=(2, 3)))
        if self.bg_type == "shift":
            out[:, :2, 2] = prediction
        else:
            out[:, :2, :] = prediction[:, :6].view(b, 2, 3)
            if self.bg_type == "perspective":
                out[:, 2, :2] = prediction[:, 6:].view(b, 2)
        return out


class AVDNetwork(AVDCore):
    """Animation via disentanglement over (shift, affine) per region; returns retargeted Keypoints."""

    def __init__(
        self,
        num_regions: int,
        id_bottle_size: int = 64,
        pose_bottle_size: int = 64,
        revert_axis_swap: bool = True,
    ) -> None:
        super().__init__(6 * num_regions, id_bottle_size, pose_bottle_size)
        self.num_regions, self.revert_axis_swap = num_regions, revert_axis_swap

    @staticmethod
    def _embed(kp: Keypoints) -> Tensor:
        b, k = kp.value.shape[:2]
        return torch.cat([kp.value, kp.jacobian.reshape(b, k, 4)], dim=-1).view(b, -1)

    def forward(self, x_id: Keypoints, x_pose: Keypoints) -> Keypoints:
        if self.revert_axis_swap:
            sign = torch.sign(torch.matmul(x_id.jacobian, torch.inverse(x_pose.jacobian))[:, :, 0:1, 0:1])
            x_id = Keypoints(x_id.value, x_id.jacobian * sign)
        rec = super().forward(self._embed(x_id), self._embed(x_pose)).view(-1, self.num_regions, 6)
        affine = rec[:, :, 2:].reshape(-1, self.num_regions, 2, 2)
        return Keypoints(rec[:, :, :2], affine, torch.matmul(affine, affine.permute(0, 1, 3, 2)))


def _as_keypoints(params: dict[str, Tensor]) -> Keypoints:
    """The region predictor's output (shift, affine, covar) as the generator's Keypoints."""
    return Keypoints(params["shift"], params.get("affine"), params.get("covar"))


class MRAA(nn.Module):
    """All MRAA sub-networks under their checkpoint keys."""

    def __init__(self, model_params: dict[str, Any]) -> None:
        super().__init__()
        common = {"num_regions": model_params["num_regions"], "num_channels": model_params["num_channels"]}
        self.region_predictor = RegionPredictor(
            **common,
            estimate_affine=model_params["estimate_affine"],
            **model_params["region_predictor_params"],
        )
        self.generator = Generator(
            **common, revert_axis_swap=model_params["revert_axis_swap"], **model_params["generator_params"]
        )
        self.bg_predictor = BGMotionPredictor(
            num_channels=model_params["num_channels"], **model_params["bg_predictor_params"]
        )
        self.avd_network = AVDNetwork(model_params["num_regions"], **model_params["avd_network_params"])

    def checkpoint_networks(self) -> dict[str, nn.Module]:
        return {
            "generator": self.generator,
            "region_predictor": self.region_predictor,
            "bg_predictor": self.bg_predictor,
        }

    def optional_networks(self) -> dict[str, nn.Module]:
        return {"avd_network": self.avd_network}

    def regions(self, frames: Tensor) -> Keypoints:
        return _as_keypoints(self.region_predictor(frames))

    def forward(self, source_image: Tensor, driving_image: Tensor) -> dict[str, Any]:
        """Reconstruction as official `reconstruction.py`: absolute regions, `bg_predictor` every frame."""
        source, driving = self.region_predictor(source_image), self.region_predictor(driving_image)
        bg_params = self.bg_predictor(source_image, driving_image)
        generated = self.generator(source_image, _as_keypoints(driving), _as_keypoints(source), bg_params)
        return {"source": source, "driving": driving, "bg_params": bg_params} | generated
