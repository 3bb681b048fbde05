"""SSIM and L1 inside the eye and mouth regions, placed from the ground truth's landmarks.

Why: a model that freezes the eyes or the mouth (the failures MRFA's refinement targets) changes a few
percent of the frame, so whole-frame SSIM/L1 barely move; inside an eye or mouth crop the same failure
is most of the signal. Both crops (output and ground truth) use the ground truth's box, so a region the
model put in the wrong place is penalised too. Boxes and crop sizes: `_face_geometry` (eye box 1.8x the
eye width, resampled to 32 px, both eyes averaged; mouth box 1.5x the mouth width, 48 px). SSIM is
`qa_harness.metrics.ssim` on the crops. NaN where the ground truth has no face.
Region LPIPS is the separate metric `face_regions_lpips` (it needs the AlexNet weights).
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import REGIONS, named_boxes, region_crops
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext
from qa_harness.metrics.l1 import l1
from qa_harness.metrics.ssim import ssim


class FaceRegions(Metric):
    name = "face_regions"
    needs_reference = True
    columns = tuple(
        Column(
            f"{region}_{kind}", higher_is_better=kind == "ssim", low=-1.0 if kind == "ssim" else 0.0, high=1.0
        )
        for region in REGIONS
        for kind in ("ssim", "l1")
    )

    def __init__(self, landmarks: FaceAnalysis) -> None:
        self.landmarks = landmarks

    def region_boxes(self, batch: FrameBatch) -> dict[str, Tensor]:
        return named_boxes(self.landmarks(batch.target, suite_content=True).points)

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        points = self.landmarks(batch.target, suite_content=True).points
        values: dict[str, Tensor] = {}
        for region in REGIONS:
            pairs = list(
                zip(
                    region_crops(batch.output, points, region),
                    region_crops(batch.target, points, region),
                    strict=True,
                )
            )
            values[f"{region}_ssim"] = torch.stack([ssim(o, t) for o, t in pairs]).mean(dim=0)
            values[f"{region}_l1"] = torch.stack([l1(o, t) for o, t in pairs]).mean(dim=0)
        return values


def build(ctx: MetricContext) -> FaceRegions:
    from qa_harness.catalog import DEFAULT_LANDMARKS

    return FaceRegions(landmark_analysis(ctx, DEFAULT_LANDMARKS))
