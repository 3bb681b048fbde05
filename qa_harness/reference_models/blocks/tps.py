"""Thin-plate-spline motion (TPSMM, CVPR 2022; also MRFA's `tpsm` prior): the K TPS transforms and
the dense motion network that combines them.

Official: Thin-Plate-Spline-Motion-Model `modules/util.py` (`TPS`, mode 'kp') and
`modules/dense_motion.py`; MRFA `TPSDenseMotionNetwork` is the same network with BatchNorm,
`multi_mask=False` and occlusion logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.keypoints import gaussian_difference, make_coordinate_grid
from qa_harness.reference_models.blocks.layers import (
    AntiAliasInterpolation2d,
    Hourglass,
    Norm,
    UpBlock2d,
    without_autocast,
)
from qa_harness.reference_models.blocks.motion import background_grid, warp_copies


def _tps_kernel(squared_distance: Tensor) -> Tensor:
    return squared_distance * torch.log(squared_distance + 1e-9)


class TPS:
    """K thin-plate splines fitted to map control points `kp_1` (B,K,N,2) onto `kp_2` (B,K,N,2).

    Solves [[U(|p_i - p_j|), P], [P^T, 0]] + 0.01 I for each of the K groups (U(r) = r^2 log r^2), as the
    official 'kp' mode does; `transform_frame` gives the K sampling grids (B,K,H,W,2).
    """

    def __init__(self, kp_1: Tensor, kp_2: Tensor) -> None:
        b, k, n, _ = kp_1.shape
        kernel = _tps_kernel(torch.norm(kp_1[:, :, :, None] - kp_1[:, :, None, :], dim=4, p=2) ** 2)
        homogeneous = torch.cat([kp_1, kp_1.new_ones(b, k, n, 1)], 3)
        system = torch.cat(
            [
                torch.cat([kernel, homogeneous.permute(0, 1, 3, 2)], 2),
                torch.cat([homogeneous, kp_1.new_zeros(b, k, 3, 3)], 2),
            ],
            3,
        )
        system = system + torch.eye(n + 3, dtype=kp_1.dtype, device=kp_1.device).expand(system.shape) * 0.01
        target = torch.cat([kp_2, kp_1.new_zeros(b, k, 3, 2)], 2)
        param = torch.matmul(torch.inverse(system), target)
        self.theta = param[:, :, n:, :].permute(0, 1, 3, 2)
        self.control_points = kp_1
        self.control_params = param[:, :, :n, :]

    def warp_coordinates(self, coordinates: Tensor) -> Tensor:
        """(1,P,2) points -> (B,K,P,2) images under each spline."""
        b, k, n, _ = self.control_points.shape
        affine = torch.matmul(self.theta[..., :2], coordinates.permute(0, 2, 1)) + self.theta[..., 2:]
        distances = coordinates.view(coordinates.shape[0], 1, 1, -1, 2) - self.control_points.view(b, k, n, 1, 2)
        bent = torch.matmul(_tps_kernel((distances**2).sum(-1)).permute(0, 1, 3, 2), self.control_params)
        return affine.permute(0, 1, 3, 2) + bent

    def transform_frame(self, size: tuple[int, int]) -> Tensor:
        """(B,K,H,W,2) grids in [-1,1] for an H x W frame."""
        grid = make_coordinate_grid(size, dtype=self.theta.dtype, device=self.theta.device).view(1, -1, 2)
        b, k = self.theta.shape[:2]
        return self.warp_coordinates(grid).view(b, k, *size, 2)


class TPSDenseMotionNetwork(nn.Module):
    """K TPS motions + background -> contribution maps, deformation and multi-resolution occlusion logits.

    Parameter names as the official `DenseMotionNetwork`: `down.weight`, `hourglass.*`, `maps`, `up.*`,
    `occlusion.*`. Keypoints (B, 5K, 2): groups of 5 consecutive points define each TPS.
    Forward returns {'deformed_source' (B,K+1,C,h,w), 'contribution_maps' (B,K+1,h,w),
    'deformation' (B,h,w,2), 'occlusion' [logits, coarse to fine: 4 maps with multi_mask, else 1]}.
    """

    def __init__(
        self,
        block_expansion: int,
        num_blocks: int,
        max_features: int,
        num_tps: int,
        num_channels: int,
        scale_factor: float = 0.25,
        bg: bool = False,
        multi_mask: bool = True,
        kp_variance: float = 0.01,
        *,
        norm: Norm = "instance",
        align_corners: bool = True,
        subsample: str = "nearest",
    ) -> None:
        super().__init__()
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, subsample=subsample)
        self.scale_factor, self.multi_mask, self.bg = scale_factor, multi_mask, bg
        self.num_tps, self.kp_variance, self.align_corners = num_tps, kp_variance, align_corners
        self.hourglass = Hourglass(
            block_expansion,
            num_channels * (num_tps + 1) + num_tps * 5 + 1,
            num_blocks=num_blocks,
            max_features=max_features,
            norm=norm,
        )
        channels = self.hourglass.out_channels
        self.maps = nn.Conv2d(channels[-1], num_tps + 1, kernel_size=(7, 7), padding=(3, 3))
        if multi_mask:
            self.up_nums = int(math.log(1 / scale_factor, 2))
            self.occlusion_num = 4
            self.up = nn.ModuleList(
                UpBlock2d(channels[-1] // 2**i, channels[-1] // 2 ** (i + 1), kernel_size=3, padding=1, norm=norm)
                for i in range(self.up_nums)
            )
            occ_in = [channels[-i - 1] for i in reversed(range(self.occlusion_num - self.up_nums))]
            occ_in += [channels[-1] // 2 ** (i + 1) for i in range(self.up_nums)]
        else:
            occ_in = [channels[-1]]
        self.occlusion = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=(7, 7), padding=(3, 3)) for c in occ_in)

    def forward(
        self, source_image: Tensor, kp_driving: Tensor, kp_source: Tensor, bg_param: Tensor | None = None
    ) -> dict[str, Tensor | list[Tensor]]:
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        b, _, h, w = source_image.shape
        heatmap = gaussian_difference(kp_driving, kp_source, (h, w), self.kp_variance, self.kp_variance)
        with without_autocast(source_image.device):
            kp_1, kp_2 = kp_driving.float().view(b, -1, 5, 2), kp_source.float().view(b, -1, 5, 2)
            splines = TPS(kp_1, kp_2).transform_frame((h, w))
            bg_param = None if bg_param is None else bg_param.float()
            identity = make_coordinate_grid((h, w), device=kp_driving.device).view(1, 1, h, w, 2)
            motions = torch.cat([background_grid(identity, b, bg_param), splines], dim=1)
        deformed = warp_copies(source_image, motions, align_corners=self.align_corners)
        levels = self.hourglass(torch.cat([heatmap, deformed.view(b, -1, h, w)], dim=1), all_levels=True)
        contribution = F.softmax(self.maps(levels[-1]), dim=1)
        deformation = (motions.permute(0, 1, 4, 2, 3) * contribution.unsqueeze(2)).sum(dim=1).permute(0, 2, 3, 1)
        if self.multi_mask:
            first = self.occlusion_num - self.up_nums
            occlusion = [self.occlusion[i](levels[self.up_nums - self.occlusion_num + i]) for i in range(first)]
            feature = levels[-1]
            for i, up in enumerate(self.up):
                feature = up(feature)
                occlusion.append(self.occlusion[first + i](feature))
        else:
            occlusion = [self.occlusion[0](levels[-1])]
        return {
            "deformed_source": deformed,
            "contribution_maps": contribution,
            "deformation": deformation,
            "occlusion": occlusion,
        }
