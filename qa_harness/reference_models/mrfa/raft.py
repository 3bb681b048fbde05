"""MRFA motion refinement: structure correlation volume + RAFT-style coarse-to-fine flow updates.

Official: `modules/raft.py` (`CorrBlock`, `BasicMotionEncoder`, `RefineFlow`, `RaftFlow`) of JialeTao/MRFA
at 20f935f; parameter names reproduce `decoder.*`. The algorithm (see `RaftFlow`):

1. keypoints of source and driving -> Gaussian heatmaps (variance 0.1) + learned positional embedding at
   the basic flow resolution h = size/4; source heatmaps with the downsampled source image and driving
   heatmaps alone go through two hourglasses and 1x1 heads into `dim`-channel features K_s and Q_d;
2. correlation volume C[d, s] = <Q_d(d), K_s(s)> / sqrt(dim) over all driving x source positions;
3. the prior motion (dense-motion deformation grid and occlusion logits) initialises flow and occlusion
   at the coarsest level of the generator's feature pyramid (size/32);
4. at each level a 2-level correlation pyramid over the source axes is sampled in a 7x7 window around the
   current correspondence, encoded with the flow (`corr_enc`), combined with the warped source feature
   (`to_context`) and `refine` predicts a residual flow and occlusion logit;
5. the next level starts from the prior resized to it plus all residuals so far, upsampled.

Flows are in pixels of their level, channels (x, y); sampling uses `bilinear_sampler` (align_corners=True).
Coordinates and flows stay float32 under autocast (bf16 cannot resolve sub-pixel offsets at 256 px);
convolutions run in the autocast dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.reference_models.blocks.keypoints import kp2gaussian
from qa_harness.reference_models.blocks.layers import Hourglass, sample
from qa_harness.reference_models.mrfa.generator import OcclusionAwareGenerator

#: Feature pyramid levels of the generator (5 up blocks -> 6 levels from size/32 to size).
NUM_LEVELS = 6
#: Context channels per level, fixed in the official RaftFlow (they must match the generator's widths).
CONTEXT_CHANNELS = (512, 512, 512, 256, 128, 64)
CORR_LEVELS, CORR_RADIUS = 2, 3


def coords_grid(batch: int, h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(B,2,h,w) pixel coordinates, channel 0 = x (column), channel 1 = y (row)."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype), indexing="ij"
    )
    return torch.stack([xs, ys])[None].expand(batch, 2, h, w)


def bilinear_sampler(image: Tensor, coords: Tensor) -> Tensor:
    """Samples (N,C,H,W) at pixel coordinates (N,h,w,2) (x, y); zeros outside, corners aligned.
    Sampling runs in the wider dtype of the two (float32 coordinates under autocast)."""
    h, w = image.shape[-2:]
    x, y = coords.unbind(-1)
    grid = torch.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1)
    return sample(image, grid, align_corners=True)


def _resize(x: Tensor, size: int) -> Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=True)


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


def _sum(*terms: Tensor | None) -> Tensor | None:
    """Left-to-right sum of the terms that are present (None = an absent residual)."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total


def corr_lookup(volume: Tensor, coords: Tensor) -> Tensor:
    """RAFT lookup: (N,1,S,S) per-driving-pixel correlation maps, coords (B,2,r,r) in source pixels.

    N = B*r*r. A 2-level pyramid (2x2 average pooling) over the source axes is sampled in a 7x7 window
    around each point (coords / 2^level); as in RAFT the window offsets are indexed (row offset added to
    x, column offset to y). Returns (B, 2*49, r, r).
    """
    b, _, r1, r2 = coords.shape
    offsets = torch.linspace(-CORR_RADIUS, CORR_RADIUS, 2 * CORR_RADIUS + 1, device=coords.device, dtype=coords.dtype)
    size = offsets.numel()
    window = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).view(1, size, size, 2)
    centre = coords.permute(0, 2, 3, 1).reshape(b * r1 * r2, 1, 1, 2)
    out = []
    for level in range(CORR_LEVELS):
        if level:
            volume = F.avg_pool2d(volume, 2, stride=2)
        sampled = bilinear_sampler(volume, centre / 2**level + window)
        out.append(sampled.view(b, r1, r2, -1))
    return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


class BasicMotionEncoder(nn.Module):
    """RAFT motion encoder (`corr_enc`): correlation (98) and flow (2) -> 128 channels (126 + flow)."""

    def __init__(self) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(CORR_LEVELS * (2 * CORR_RADIUS + 1) ** 2, 128, 1, padding=0)
        self.convc2 = nn.Conv2d(128, 96, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 96, 128 - 2, 3, padding=1)

    def forward(self, flow: Tensor, corr: Tensor) -> Tensor:
        cor = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        return torch.cat([F.relu(self.conv(torch.cat([cor, flo], dim=1))), flow], dim=1)


class RefineFlow(nn.Module):
    """Update head (`refine`): context (192) and motion feature (128) -> residual flow (2) + occlusion (1)."""

    def __init__(self) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(192, 128, 3, padding=1)
        self.conv1 = nn.Conv2d(256, 128, 3, padding=1)
        self.conv2 = nn.Conv2d(128, 2, 3, padding=1)
        self.convo1 = nn.Conv2d(256, 128, 3, padding=1)
        self.convo2 = nn.Conv2d(128, 1, 3, padding=1)

    def forward(self, motion: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        inp = torch.cat([motion, F.relu(self.convc1(context))], dim=1)
        return self.conv2(F.relu(self.conv1(inp))), self.convo2(F.relu(self.convo1(inp)))


@dataclass(frozen=True)
class Refined:
    """Decoder output. Per-level lists run coarse to fine (size/32 ... size)."""

    prediction: Tensor  # (B,3,size,size) in [0,1]
    warped_image: Tensor  # source warped by the finest level's input flow
    flows: list[Tensor]  # (B,2,r,r) refined flow of each level, pixels of that level
    occlusions: list[Tensor]  # (B,1,r,r) refined occlusion probability of each level
    warped_features: list[Tensor]  # source features of each level warped by that level's flow


class RaftFlow(nn.Module):
    """Refinement + generator (`decoder`). Config section `raft_flow` (prior_only, num_kp, dim, size,
    generator, driving_encoder, source_encoder).

    `iterations` (run time, 0..6, default 6 = official): how many pyramid levels, coarsest first, get a
    refinement update. A level without one uses the prior flow plus the residuals accumulated on the
    coarser levels (upsampled), i.e. exactly the flow the official schedule would feed into that level's
    update; its occlusion likewise. Cost falls steeply with fewer levels because the finest two (size/2,
    size) dominate; with 0 no correlation volume is computed and the result is the prior motion warped
    through the refinement decoder (not the same as `prior_only`, which is another trained network).
    """

    def __init__(
        self,
        prior_only: bool,
        num_kp: int,
        dim: int,
        size: int,
        generator: dict,
        driving_encoder: dict,
        source_encoder: dict,
    ) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.size = size
        self.h = size // 4
        self.base = size // 2 ** (NUM_LEVELS - 1)
        self.basic_level = (self.h // self.base).bit_length() - 1
        self.prior_only = prior_only
        self.generator = OcclusionAwareGenerator(**generator)
        if prior_only:
            return
        self.kp = Hourglass(**driving_encoder)
        self.kp_img = Hourglass(**source_encoder)
        self.kp_head = nn.Conv2d(self.kp.out_filters, dim, kernel_size=1, padding=0)
        self.kp_img_head = nn.Conv2d(self.kp_img.out_filters, dim, kernel_size=1, padding=0)
        self.pos_embedding = nn.Parameter(torch.zeros(1, num_kp, self.h, self.h))
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        self.corr_enc = BasicMotionEncoder()
        self.refine = RefineFlow()
        self.to_context = nn.ModuleList(nn.Conv2d(c, 192, 1, padding=0) for c in CONTEXT_CHANNELS)

    def correlation(self, kp_s: Tensor, kp_d: Tensor, img: Tensor) -> Tensor:
        """(B, S, h, h): for every source position s, its correlation with each driving position."""
        h = self.h
        source = torch.cat([kp2gaussian(kp_s, (h, h), 0.1) + self.pos_embedding, img], dim=1)
        k_s = self.kp_img_head(self.kp_img(source)).flatten(2)
        q_d = self.kp_head(self.kp(kp2gaussian(kp_d, (h, h), 0.1) + self.pos_embedding)).flatten(2)
        return torch.bmm(k_s.transpose(1, 2), q_d).mul_(self.scale).view(k_s.shape[0], -1, h, h)

    def lookup(self, volume: Tensor, flow: Tensor, level: int) -> Tensor:
        """Correlation features (B,98,r,r) for the level's flow; volume pooled/upsampled on driving axes."""
        b, _, r, _ = flow.shape
        h = self.h
        if level <= self.basic_level:
            factor = 2 ** (self.basic_level - level)
            pooled = F.avg_pool2d(volume, factor, stride=factor) if factor > 1 else volume
            coords = (flow + coords_grid(b, r, r, flow.device, flow.dtype)) * factor
        else:
            pooled = volume
            coords = _resize(flow, h) * 0.5 ** (level - self.basic_level) + coords_grid(
                b, h, h, flow.device, flow.dtype
            )
        n = pooled.shape[-1]
        maps = pooled.permute(0, 2, 3, 1).reshape(b * n * n, 1, h, h)
        corr = corr_lookup(maps, coords)
        return _resize(corr, r) if level > self.basic_level else corr

    def forward(
        self,
        kp_s: Tensor,
        kp_d: Tensor,
        deformation: Tensor,
        occlusion: Tensor,
        img: Tensor,
        img_full: Tensor,
        *,
        iterations: int = NUM_LEVELS,
        source_features: list[Tensor] | None = None,
    ) -> Refined:
        """kp (B,K,2) in [-1,1]; prior `deformation` (B,h,h,2) grid and `occlusion` (B,1,h,h) logits;
        `img` the source downsampled to h x h, `img_full` the source (B,3,size,size); `source_features`:
        `generator.encode(img_full)`, when the caller has it (one source, many driving frames)."""
        if not 0 <= iterations <= NUM_LEVELS:
            raise ValueError(f"iterations must be in 0..{NUM_LEVELS}, got {iterations}")
        features = self.generator.encode(img_full) if source_features is None else source_features
        if self.prior_only:
            return self._prior_only(features, deformation, occlusion, img_full)
        b, dev, dt = img.shape[0], img.device, torch.float32
        grid = deformation.float().permute(0, 3, 1, 2)
        occlusion = occlusion.float()
        init_flow = (self.h - 1) * (grid + 1) / 2.0 - coords_grid(b, self.h, self.h, dev, dt)
        volume = self.correlation(kp_s, kp_d, img) if iterations else None
        flow = _resize(init_flow, self.base) / 2**self.basic_level
        occ = _resize(occlusion, self.base)
        acc_flow = acc_occ = None
        warped, prior_warped, flows, occlusions = [], [], [], []
        for level, feature in enumerate(features):
            r = feature.shape[-1]
            ids = coords_grid(b, r, r, dev, dt)
            d_flow = d_occ = None
            if level < iterations:
                motion = self.corr_enc(flow, self.lookup(volume, flow, level))
                current = bilinear_sampler(feature, (flow + ids).permute(0, 2, 3, 1))
                context = F.relu(self.to_context[level](current))
                d_flow, d_occ = self.refine(motion, context)
                occ = occ + d_occ
            refined = _sum(flow, d_flow)
            flows.append(refined)
            occlusions.append(torch.sigmoid(occ))
            warped.append(bilinear_sampler(feature, (refined + ids).permute(0, 2, 3, 1)))
            prior_grid = grid if r == self.h else _resize(grid, r)
            prior_warped.append(sample(feature, prior_grid.permute(0, 2, 3, 1), align_corners=False))
            if level == NUM_LEVELS - 1:
                break
            nxt = r * 2
            up_flow = None if d_flow is None else _up2(d_flow) * 2
            up_occ = None if d_occ is None else _up2(d_occ)
            prev_flow = None if acc_flow is None else _up2(acc_flow) * 2
            prev_occ = None if acc_occ is None else _up2(acc_occ)
            flow = _sum(up_flow, _resize(init_flow, nxt) / (self.h / nxt), prev_flow)
            occ = _sum(up_occ, _resize(occlusion, nxt), prev_occ)
            acc_flow, acc_occ = _sum(up_flow, prev_flow), _sum(up_occ, prev_occ)
        warped_image = bilinear_sampler(img_full, (flow + ids).permute(0, 2, 3, 1))
        prediction = self.generator.decode(warped, warped_image, occlusions, prior_warped)
        return Refined(prediction, warped_image, flows, occlusions, warped)

    def _prior_only(self, features: list[Tensor], deformation: Tensor, occlusion: Tensor, img_full: Tensor) -> Refined:
        """Official `prior_only`: every level warped by the prior grid (grid_sample, align_corners=False)."""
        grid, occlusion = deformation.float().permute(0, 3, 1, 2), occlusion.float()
        warped, flows, occlusions = [], [], []
        for feature in features:
            r = feature.shape[-1]
            level_grid = grid if r == self.h else _resize(grid, r)
            level_occ = occlusion if r == self.h else _resize(occlusion, r)
            warped.append(sample(feature, level_grid.permute(0, 2, 3, 1), align_corners=False))
            occlusions.append(torch.sigmoid(level_occ))
            ids = coords_grid(feature.shape[0], r, r, feature.device, torch.float32)
            flows.append((r - 1) * (level_grid + 1) / 2 - ids)
        warped_image = sample(img_full, level_grid.permute(0, 2, 3, 1), align_corners=False)
        prediction = self.generator.decode(warped, warped_image, occlusions)
        return Refined(prediction, warped_image, flows, occlusions, warped)
