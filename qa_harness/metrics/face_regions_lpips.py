"""LPIPS inside the eye and mouth regions, placed from the ground truth's landmarks.

The perceptual counterpart of `face_regions` (same boxes, from `_face_geometry`), using
`qa_harness.metrics.lpips` (AlexNet trunk, LPIPS v0.1) on crops resampled to 64 px: small enough to stay
local, large enough for AlexNet (LPIPS needs >= 31 px). Both eyes are averaged. A separate metric, not a
column of `face_regions`, because LPIPS needs the ImageNet AlexNet weights: where they are absent this
metric is unavailable while the SSIM/L1 region metrics still run. NaN where the ground truth has no face.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import REGIONS, named_boxes, region_crops
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext
from qa_harness.metrics.lpips import LPIPS
from qa_harness.metrics.lpips_net import ALEXNET

CROP = 64


class FaceRegionsLPIPS(Metric):
    name = "face_regions_lpips"
    needs_reference = True
    columns = tuple(Column(f"{region}_lpips", higher_is_better=False, low=0.0) for region in REGIONS)

    def __init__(self, landmarks: FaceAnalysis, lpips: LPIPS) -> None:
        self.landmarks = landmarks
        self.lpips = lpips

    def region_boxes(self, batch: FrameBatch) -> dict[str, Tensor]:
        return named_boxes(self.landmarks(batch.target, suite_content=True).points)

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        points = self.landmarks(batch.target, suite_content=True).points
        values = {}
        for region in REGIONS:
            outputs = region_crops(batch.output, points, region, size=CROP)
            targets = region_crops(batch.target, points, region, size=CROP)
            distances = [
                self.lpips.distance(o, t).to(batch.output.device) for o, t in zip(outputs, targets, strict=True)
            ]
            values[f"{region}_lpips"] = torch.stack(distances).mean(dim=0)
        return values


def build(ctx: MetricContext) -> FaceRegionsLPIPS:
    from qa_harness.catalog import DEFAULT_LANDMARKS

    lpips = LPIPS(ALEXNET, name="lpips", device=ctx.device)
    return FaceRegionsLPIPS(landmark_analysis(ctx, DEFAULT_LANDMARKS), lpips)
