"""Dense motion from sparse keypoint motion (FOMM `DenseMotionNetwork`, MRAA `PixelwiseFlowPredictor`,
MRFA `DenseMotionNetwork`): one class, the repository differences are options.

Per keypoint k a local affine motion maps driving coordinates z to source coordinates
    T_k(z) = kp_s + J_s J_d^-1 (z - kp_d)
(plus a background motion: identity, or a 3x3 `bg_param` in homogeneous coordinates). The source,
warped by each T_k, and the heatmap differences feed an hourglass that predicts softmax masks
combining the K+1 motions into one sampling grid, and optionally occlusion logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.keypoints import Keypoints, gaussian_difference, make_coordinate_grid
from qa_harness.reference_models.blocks.layers import (
    AntiAliasInterpolation2d,
    Hourglass,
    Norm,
    from_homogeneous,
    sample,
    to_homogeneous,
    without_autocast,
)


def _f32(tensor: Tensor | None) -> Tensor | None:
    return None if tensor is None else tensor.float()


def float32(kp: Keypoints) -> Keypoints:
    """The keypoints in float32 (for the motion algebra under autocast)."""
    return Keypoints(*(_f32(t) for t in (kp.value, kp.jacobian, kp.covar)))


def background_grid(identity: Tensor, batch: int, bg_param: Tensor | None) -> Tensor:
    """(1,1,h,w,2) identity grid -> (B,1,h,w,2) background motion, projective when `bg_param` (B,3,3)."""
    grid = identity.repeat(batch, 1, 1, 1, 1)
    if bg_param is None:
        return grid
    moved = torch.matmul(bg_param.view(batch, 1, 1, 1, 3, 3), to_homogeneous(grid).unsqueeze(-1)).squeeze(-1)
    return from_homogeneous(moved)


def warp_copies(image: Tensor, grids: Tensor, *, align_corners: bool) -> Tensor:
    """Warp `image` (B,C,h,w) by each of M grids (B,M,h,w,2) -> (B,M,C,h,w)."""
    b, m, h, w, _ = grids.shape
    repeated = image.unsqueeze(1).expand(b, m, *image.shape[1:]).reshape(b * m, -1, h, w)
    warped = sample(repeated, grids.reshape(b * m, h, w, 2), align_corners=align_corners)
    return warped.view(b, m, -1, h, w)


class DenseMotionNetwork(nn.Module):
    """Sparse keypoint motions -> dense deformation grid and occlusion logits.

    Parameter names: `hourglass.*`, `mask`, `occlusion`, `down.weight`. Options:
    `use_covar_heatmap` (MRAA: heatmaps from the keypoint covariances), `use_deformed_source` (MRAA option;
    without it only heatmaps feed the hourglass), `revert_axis_swap` (MRAA: flip the relative affine's sign
    so that it keeps the orientation of the x axis), `align_corners` (False in FOMM/MRAA/MRFA).
    Forward returns {'sparse_deformed' (B,K+1,C,h,w), 'mask_logits', 'mask' (B,K+1,h,w),
    'deformation' (B,h,w,2), 'occlusion' (B,1,h,w) logits when estimated}.
    """

    def __init__(
        self,
        block_expansion: int,
        num_blocks: int,
        max_features: int,
        num_kp: int,
        num_channels: int,
        estimate_occlusion_map: bool = False,
        scale_factor: float = 1,
        kp_variance: float = 0.01,
        *,
        norm: Norm = "batch",
        use_covar_heatmap: bool = False,
        use_deformed_source: bool = True,
        revert_axis_swap: bool = False,
        align_corners: bool = False,
        subsample: str = "stride",
    ) -> None:
        super().__init__()
        in_features = (num_kp + 1) * (num_channels * use_deformed_source + 1)
        self.hourglass = Hourglass(
            block_expansion, in_features, num_blocks=num_blocks, max_features=max_features, norm=norm
        )
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        self.occlusion = (
            nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
            if estimate_occlusion_map
            else None
        )
        self.num_kp, self.scale_factor, self.kp_variance = num_kp, scale_factor, kp_variance
        self.use_covar_heatmap, self.use_deformed_source = use_covar_heatmap, use_deformed_source
        self.revert_axis_swap, self.align_corners = revert_axis_swap, align_corners
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, subsample=subsample)

    def heatmap_representation(self, size: tuple[int, int], kp_driving: Keypoints, kp_source: Keypoints) -> Tensor:
        """(B,K+1,1,h,w): driving minus source Gaussians, with a zero background channel first."""
        driving_var = kp_driving.covar if self.use_covar_heatmap else self.kp_variance
        source_var = kp_source.covar if self.use_covar_heatmap else self.kp_variance
        return gaussian_difference(kp_driving.value, kp_source.value, size, driving_var, source_var).unsqueeze(2)

    def sparse_motions(
        self, size: tuple[int, int], kp_driving: Keypoints, kp_source: Keypoints, bg_param: Tensor | None
    ) -> Tensor:
        """(B,K+1,h,w,2): background motion then the K local affine motions T_k (driving -> source)."""
        b, h, w = kp_driving.value.shape[0], *size
        identity = make_coordinate_grid(size, dtype=kp_source.value.dtype, device=kp_source.value.device)
        identity = identity.view(1, 1, h, w, 2)
        grid = identity - kp_driving.value.view(b, self.num_kp, 1, 1, 2)
        if kp_driving.jacobian is not None:
            affine = torch.matmul(kp_source.jacobian, torch.inverse(kp_driving.jacobian))
            if self.revert_axis_swap:
                affine = affine * torch.sign(affine[:, :, 0:1, 0:1])
            grid = torch.matmul(affine[:, :, None, None], grid.unsqueeze(-1)).squeeze(-1)
        driving_to_source = grid + kp_source.value.view(b, self.num_kp, 1, 1, 2)
        return torch.cat([background_grid(identity, b, bg_param), driving_to_source], dim=1)

    def forward(
        self,
        source_image: Tensor,
        kp_driving: Keypoints,
        kp_source: Keypoints,
        bg_param: Tensor | None = None,
    ) -> dict[str, Tensor]:
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        b, _, h, w = source_image.shape
        heatmaps = self.heatmap_representation((h, w), kp_driving, kp_source)
        with without_autocast(source_image.device):
            motions = self.sparse_motions((h, w), float32(kp_driving), float32(kp_source), _f32(bg_param))
        deformed = warp_copies(source_image, motions, align_corners=self.align_corners)
        parts = [heatmaps, deformed] if self.use_deformed_source else [heatmaps]
        prediction = self.hourglass(torch.cat(parts, dim=2).view(b, -1, h, w))
        mask_logits = self.mask(prediction)
        mask = F.softmax(mask_logits, dim=1)
        deformation = (motions.permute(0, 1, 4, 2, 3) * mask.unsqueeze(2)).sum(dim=1).permute(0, 2, 3, 1)
        out = {
            "sparse_deformed": deformed,
            "mask_logits": mask_logits,
            "mask": mask,
            "deformation": deformation,
        }
        if self.occlusion is not None:
            out["occlusion"] = self.occlusion(prediction)
        return out
