"""SSIM and L1 inside the eye and mouth regions, placed from the ground truth's landmarks.

Why: a model that freezes the eyes or the mouth (the failures MRFA's refinement targets) changes a few
percent of the frame, so whole-frame SSIM/L1 barely move; inside an eye or mouth crop the same failure
is most of the signal. Both crops (output and ground truth) use the ground truth's box, so a region the
model put in the wrong place is penalised too. Boxes and crop sizes: `_face_geometry` (eye box 1.8x the
eye width, resampled to 32 px, both eyes averaged; mouth box 1.5x the mouth width, 48 px). SSIM is
`qa_harness.metrics.ssim` on the crops. NaN where the ground truth has no face.
Region LPIPS is the separate metric `face_regions_lpips` (it needs the AlexNet weights).

Metric card. *Range*: eye/mouth SSIM in [-1, 1], higher is better; L1 in [0, 1], lower is better.
*Reference*: `ssim` (skimage-tested) on the crops; a region pasted from the source drops its SSIM by
> 10x the whole-frame drop (tests). *Unscored* frames: no face in the ground truth (no box).
*Failure modes*: a landmark miss on the ground truth misplaces both crops alike.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis, no_face
from qa_harness.metrics._face_geometry import REGIONS, named_boxes, region_crops
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes
from qa_harness.metrics.l1 import l1
from qa_harness.metrics.ssim import ssim

Crops = list[tuple[Tensor, Tensor]]  # (output, ground truth) crops of one region: two for the eyes


class RegionMetric(Metric):
    """A full-reference metric scored inside the eye and mouth boxes of the ground truth's landmarks;
    subclasses say how a region's crops are scored. Also names those boxes for the report's crops."""

    needs_reference = True
    reasons = (no_face("ground truth", "landmark"),)  # the boxes are placed from the ground truth
    #: Side of the resampled crops; None: EYE_CROP and MOUTH_CROP of `_face_geometry`.
    crop_size: int | None = None

    def __init__(self, landmarks: FaceAnalysis) -> None:
        self.landmarks = landmarks

    @abstractmethod
    def score(self, region: str, crops: Crops) -> dict[str, Tensor]:
        """Column name -> (N,) values of one region."""

    def _points(self, batch: FrameBatch) -> Tensor:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        return self.landmarks(batch.target, suite_content=True).points

    def region_boxes(self, batch: FrameBatch) -> dict[str, Tensor]:
        return named_boxes(self._points(batch))

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        points = self._points(batch)
        values: dict[str, Tensor] = {}
        for region in REGIONS:
            outputs = region_crops(batch.output, points, region, size=self.crop_size)
            targets = region_crops(batch.target, points, region, size=self.crop_size)
            values |= self.score(region, list(zip(outputs, targets, strict=True)))
        return values | {UNSCORED: reason_codes(torch.isnan(points).any(dim=2).any(dim=1))}


class FaceRegions(RegionMetric):
    name = "face_regions"
    columns = tuple(
        Column(f"{region}_{kind}", higher_is_better=kind == "ssim", low=-1.0 if kind == "ssim" else 0.0, high=1.0)
        for region in REGIONS
        for kind in ("ssim", "l1")
    )

    def score(self, region: str, crops: Crops) -> dict[str, Tensor]:
        return {
            f"{region}_ssim": torch.stack([ssim(o, t) for o, t in crops]).mean(dim=0),
            f"{region}_l1": torch.stack([l1(o, t) for o, t in crops]).mean(dim=0),
        }


def build(ctx: MetricContext, *, landmarks: str) -> FaceRegions:
    return FaceRegions(landmark_analysis(ctx, landmarks))
