"""Keypoint representation shared by the models: coordinate grids, Gaussian heatmaps, the FOMM detector.

Coordinates are normalised to [-1, 1] with (x, y) order, as `grid_sample` expects; the grid of an
H x W map has its corners at exactly -1 and 1 (official `make_coordinate_grid`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.layers import AntiAliasInterpolation2d, Hourglass, Norm


@dataclass(frozen=True)
class Keypoints:
    """Keypoints (B,K,2) with optional local affine maps (B,K,2,2) and covariances (B,K,2,2).

    FOMM: value + jacobian. MRAA: value = region shift, jacobian = region affine, covar. TPSMM: value only.
    """

    value: Tensor
    jacobian: Tensor | None = None
    covar: Tensor | None = None

    def expand(self, n: int) -> Keypoints:
        """The same keypoints for a batch of n (from a batch of 1), without copying."""
        return Keypoints(
            *(None if t is None else t.expand(n, *t.shape[1:]) for t in (self.value, self.jacobian, self.covar))
        )


def movement_scale(kp_source: Keypoints, kp_initial: Keypoints) -> float:
    """sqrt(source hull area / initial driving hull area) of the first sample's points (official
    `adapt_movement_scale`: scipy ConvexHull volume, i.e. area in 2-D)."""
    from scipy.spatial import ConvexHull

    def area(kp: Keypoints) -> float:
        return float(ConvexHull(kp.value[0].detach().float().cpu().numpy()).volume)

    return math.sqrt(area(kp_source)) / math.sqrt(area(kp_initial))


def relative_keypoints(
    kp_source: Keypoints, kp_driving: Keypoints, kp_initial: Keypoints, scale: float = 1.0
) -> Keypoints:
    """Official relative motion (FOMM `normalize_kp`, MRAA/TPSMM 'relative'): the driving's displacement from
    its first frame, times `scale`, added to the source; Jacobians as J_d J_init^-1 J_s; covariances are the
    driving's (as MRAA keeps them)."""
    value = (kp_driving.value - kp_initial.value) * scale + kp_source.value
    jacobian = None
    if kp_driving.jacobian is not None:
        jacobian = torch.matmul(
            torch.matmul(kp_driving.jacobian, torch.inverse(kp_initial.jacobian)), kp_source.jacobian
        )
    return Keypoints(value, jacobian, kp_driving.covar)


def make_coordinate_grid(
    spatial_size: tuple[int, int],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """(H, W, 2) grid of (x, y) in [-1, 1]."""
    h, w = spatial_size
    x = 2 * (torch.arange(w, dtype=dtype, device=device) / (w - 1)) - 1
    y = 2 * (torch.arange(h, dtype=dtype, device=device) / (h - 1)) - 1
    return torch.stack([x.view(1, -1).expand(h, w), y.view(-1, 1).expand(h, w)], dim=2)


def kp2gaussian(mean: Tensor, spatial_size: tuple[int, int], kp_variance: float | Tensor) -> Tensor:
    """Gaussian heatmaps (..., H, W) around points `mean` (..., 2).

    `kp_variance` is a scalar (isotropic, FOMM/TPSMM/MRFA) or covariances (..., 2, 2) (MRAA
    `use_covar_heatmap`), giving exp(-0.5 d^T C^-1 d).
    """
    grid = make_coordinate_grid(spatial_size, dtype=mean.dtype, device=mean.device)
    lead = mean.shape[:-1]
    diff = grid.view((1,) * len(lead) + grid.shape) - mean.view(*lead, 1, 1, 2)
    if isinstance(kp_variance, Tensor):
        inverse = torch.inverse(kp_variance).view(*lead, 1, 1, 2, 2)
        under_exp = torch.matmul(torch.matmul(diff.unsqueeze(-2), inverse), diff.unsqueeze(-1))
        return torch.exp(-0.5 * under_exp.sum(dim=(-1, -2)))
    return torch.exp(-0.5 * (diff**2).sum(-1) / kp_variance)


def gaussian_difference(
    driving: Tensor, source: Tensor, size: tuple[int, int], driving_var: float | Tensor, source_var: float | Tensor
) -> Tensor:
    """(B,K+1,h,w): driving minus source keypoint Gaussians, with a zero background channel first."""
    heatmap = kp2gaussian(driving, size, driving_var) - kp2gaussian(source, size, source_var)
    return torch.cat([heatmap.new_zeros(heatmap.shape[0], 1, *size), heatmap], dim=1)


def softmax_heatmap(prediction: Tensor, temperature: float) -> Tensor:
    """(B,K,H,W) logits -> spatial softmax at `temperature`, same shape."""
    b, k, h, w = prediction.shape
    return F.softmax(prediction.view(b, k, -1) / temperature, dim=2).view(b, k, h, w)


def heatmap_mean(heatmap: Tensor) -> Tensor:
    """Expected (x, y) of each normalised heatmap: (B,K,H,W) -> (B,K,2)."""
    grid = make_coordinate_grid(heatmap.shape[2:], dtype=heatmap.dtype, device=heatmap.device)
    return (heatmap.unsqueeze(-1) * grid[None, None]).sum(dim=(2, 3))


class KPDetector(nn.Module):
    """FOMM keypoint detector: hourglass -> softmax heatmaps -> keypoints and heatmap-weighted Jacobians.

    Official: first-order-model `modules/keypoint_detector.py` (also MRFA `fomm_kp_detector`). Parameter
    names: `predictor.*`, `kp`, `jacobian`, `down.weight`. Input (B,C,H,W) in [0,1].
    """

    def __init__(
        self,
        block_expansion: int,
        num_kp: int,
        num_channels: int,
        max_features: int,
        num_blocks: int,
        temperature: float,
        estimate_jacobian: bool = False,
        scale_factor: float = 1,
        single_jacobian_map: bool = False,
        pad: int = 0,
        *,
        norm: Norm = "batch",
        subsample: str = "stride",
    ) -> None:
        super().__init__()
        self.predictor = Hourglass(
            block_expansion,
            in_features=num_channels,
            max_features=max_features,
            num_blocks=num_blocks,
            norm=norm,
        )
        self.kp = nn.Conv2d(self.predictor.out_filters, num_kp, kernel_size=(7, 7), padding=pad)
        self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
        if estimate_jacobian:
            self.jacobian = nn.Conv2d(
                self.predictor.out_filters, 4 * self.num_jacobian_maps, kernel_size=(7, 7), padding=pad
            )
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
        else:
            self.jacobian = None
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, subsample=subsample)

    def forward(self, x: Tensor) -> Keypoints:
        if self.scale_factor != 1:
            x = self.down(x)
        features = self.predictor(x)
        heatmap = softmax_heatmap(self.kp(features).float(), self.temperature)  # fp32 under autocast
        value = heatmap_mean(heatmap)
        if self.jacobian is None:
            return Keypoints(value)
        b, k, h, w = heatmap.shape
        maps = self.jacobian(features).float().reshape(b, self.num_jacobian_maps, 4, h, w)
        jacobian = (heatmap.unsqueeze(2) * maps).view(b, k, 4, -1).sum(dim=-1)
        return Keypoints(value, jacobian.view(b, k, 2, 2))
