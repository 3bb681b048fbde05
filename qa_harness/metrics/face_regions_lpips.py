"""LPIPS inside the eye and mouth regions, placed from the ground truth's landmarks.

The perceptual counterpart of `face_regions` (same boxes, from `_face_geometry`), using
`qa_harness.metrics.lpips` (AlexNet trunk, LPIPS v0.1) on crops resampled to 64 px: small enough to stay
local, large enough for AlexNet (LPIPS needs >= 31 px). Both eyes are averaged. A separate metric, not a
column of `face_regions`, because LPIPS needs the ImageNet AlexNet weights: where they are absent this
metric is unavailable while the SSIM/L1 region metrics still run. NaN where the ground truth has no face.

Metric card. *Range* [0, ~1], lower is better. *Reference*: `lpips` on the crops (tests).
*Failure modes*: as `face_regions`; 64 px crops of a small face are mostly upsampled blur.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import REGIONS
from qa_harness.metrics.base import Column, MetricContext
from qa_harness.metrics.face_regions import Crops, RegionMetric
from qa_harness.metrics.lpips import LPIPS
from qa_harness.metrics.lpips_net import ALEXNET


class FaceRegionsLPIPS(RegionMetric):
    name = "face_regions_lpips"
    columns = tuple(Column(f"{region}_lpips", higher_is_better=False, low=0.0) for region in REGIONS)
    crop_size = 64

    def __init__(self, landmarks: FaceAnalysis, lpips: LPIPS) -> None:
        super().__init__(landmarks)
        self.lpips = lpips

    def run_params(self) -> dict[str, str]:
        return self.lpips.run_params()

    def score(self, region: str, crops: Crops) -> dict[str, Tensor]:
        distances = [self.lpips.distance(o, t).to(o.device) for o, t in crops]
        return {f"{region}_lpips": torch.stack(distances).mean(dim=0)}


def build(ctx: MetricContext, *, landmarks: str) -> FaceRegionsLPIPS:
    lpips = LPIPS(ALEXNET, name="lpips", device=ctx.device)
    return FaceRegionsLPIPS(landmark_analysis(ctx, landmarks), lpips)
