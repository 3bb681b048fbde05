"""Geometry on 68-point iBUG landmarks, batched in torch: aspect ratios, inter-ocular distance, region crops.

Shared by the face metrics so that every metric measures the same eye and mouth. Points are (N, 68, 2)
pixels; NaN points (no face) give NaN results, never an exception.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from qa_harness.landmarks.base import LEFT_EYE, RIGHT_EYE

#: Eye box side = this x the eye's corner-to-corner width; mouth box side = this x the mouth width.
#: Wide enough to hold lids and brows' lower edge, and the lips with some skin around them.
EYE_BOX_SCALE = 1.8
MOUTH_BOX_SCALE = 1.5
#: Crops are resampled to these sides so SSIM/L1 are comparable across face sizes (SSIM needs >= 11 px).
EYE_CROP = 32
MOUTH_CROP = 48
REGIONS = ("eye", "mouth")


def _dist(points: Tensor, a: int, b: int) -> Tensor:
    return (points[:, a] - points[:, b]).norm(dim=-1)


def eye_aspect_ratio(points: Tensor) -> Tensor:
    """(N, 68, 2) -> (N,) EAR (Soukupova & Cech 2016), the mean of both eyes: lid gaps over eye width."""
    ratios = []
    for p0, p1, p2, p3, p4, p5 in (RIGHT_EYE, LEFT_EYE):
        gaps = _dist(points, p1, p5) + _dist(points, p2, p4)
        ratios.append(gaps / (2 * _dist(points, p0, p3)))
    return (ratios[0] + ratios[1]) / 2


def mouth_aspect_ratio(points: Tensor) -> Tensor:
    """(N, 68, 2) -> (N,) inner-lip MAR: mean vertical gap (61-67, 62-66, 63-65) over the width 60-64."""
    gaps = _dist(points, 61, 67) + _dist(points, 62, 66) + _dist(points, 63, 65)
    return gaps / (3 * _dist(points, 60, 64))


def inter_ocular(points: Tensor) -> Tensor:
    """(N, 68, 2) -> (N,) outer-eye-corner distance (36-45), the 300-W normalisation."""
    return _dist(points, 36, 45)


def region_boxes(points: Tensor, region: str) -> list[Tensor]:
    """Square boxes (N, 3) = (centre x, centre y, side) in pixels: two for 'eye', one for 'mouth'."""
    if region == "eye":
        boxes = []
        for eye in (RIGHT_EYE, LEFT_EYE):
            centre = points[:, list(eye)].mean(dim=1)
            side = EYE_BOX_SCALE * _dist(points, eye[0], eye[3])
            boxes.append(torch.cat([centre, side[:, None]], dim=1))
        return boxes
    if region == "mouth":
        centre = points[:, 48:68].mean(dim=1)
        side = MOUTH_BOX_SCALE * _dist(points, 48, 54)
        return [torch.cat([centre, side[:, None]], dim=1)]
    raise ValueError(f"unknown face region '{region}'; known: {', '.join(REGIONS)}")


def named_boxes(points: Tensor) -> dict[str, Tensor]:
    """The region boxes by name (the subject's eyes, as iBUG numbers them): for report crops."""
    right, left = region_boxes(points, "eye")
    return {"eye_right": right, "eye_left": left, "mouth": region_boxes(points, "mouth")[0]}


def crop_boxes(frames: Tensor, boxes: Tensor, size: int) -> Tensor:
    """(N, 3, H, W) frames, (N, 3) boxes -> (N, 3, size, size) bilinear crops (border pixels repeat).

    Rows whose box is NaN come back as NaN crops, so whatever is computed on them is NaN.
    """
    n, _, h, w = frames.shape
    safe = torch.nan_to_num(boxes.to(frames.dtype), nan=1.0)
    theta = torch.zeros(n, 2, 3, dtype=frames.dtype, device=frames.device)
    theta[:, 0, 0] = safe[:, 2] / w
    theta[:, 1, 1] = safe[:, 2] / h
    theta[:, 0, 2] = 2 * safe[:, 0] / w - 1
    theta[:, 1, 2] = 2 * safe[:, 1] / h - 1
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    crops = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
    invalid = torch.isnan(boxes).any(dim=1)
    return torch.where(invalid[:, None, None, None], torch.full_like(crops, float("nan")), crops)


def region_crops(frames: Tensor, points: Tensor, region: str, *, size: int | None = None) -> list[Tensor]:
    """Crops of `region` in `frames`, placed from `points` (the ground truth's landmarks).

    `size`: side of the resampled crops; by default EYE_CROP or MOUTH_CROP.
    """
    size = size or (EYE_CROP if region == "eye" else MOUTH_CROP)
    return [crop_boxes(frames, box, size) for box in region_boxes(points, region)]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation over frames where both are finite; NaN when fewer than 3 or either is constant."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a - b| over frames where both are finite; NaN when none."""
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[ok] - b[ok]).mean()) if ok.any() else float("nan")
