"""AKD (average keypoint distance) and MKR (missing keypoint rate) on 68 facial landmarks, per frame.

AKD as the papers compute it (AliaksandrSiarohin/pose-evaluation `cmp_kp.py`, used by FOMM/MRAA/TPSMM/
MRFA): the mean absolute coordinate difference over the 68 x 2 values, in pixels of the evaluation
frames (256x256 in the papers), between the landmarks of the generated frame and of the ground truth;
frames where the generated frame has no detection are skipped (NaN here). `akd_l2` is the mean
Euclidean point distance, for readers who expect "distance". The papers' detector is FAN (`akd_fan`,
needs its weights); the default `akd` uses the offline backend, so its numbers are comparable between
models evaluated here, not with published tables.

MKR: 1 for a frame whose ground truth has a face and whose output has none, 0 when both have one, NaN
when the ground truth has none (the frame says nothing about the model); its mean is the share of
frames the model lost. `face_found_output` flags every output frame without a face.

Metric card. *Range*: akd, akd_l2 >= 0 px, lower is better; mkr in [0, 1], lower is better;
face_found_output in {0, 1}. *Reference*: numpy on the raw MediaPipe mesh mapped by hand (tests,
1e-4 px); a whole-frame shift of (2, 2) px moves akd by 2 (tests, 0.4 px detector jitter). *Unscored*
frames (NaN) are counted by reason: no face in the output or in the ground truth (landmark backend).
*Failure modes*: the detector's jitter (a fraction of a px at 256) is a floor; other backends' numbers
are not comparable with the papers' FAN values.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis, no_face
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes


def akd(points: Tensor, reference: Tensor) -> Tensor:
    """(N, 68, 2) x2 -> (N,) mean |difference| over all 136 coordinates (NaN where either is missing)."""
    return (points - reference).abs().flatten(1).mean(dim=1)


def akd_l2(points: Tensor, reference: Tensor) -> Tensor:
    """(N, 68, 2) x2 -> (N,) mean Euclidean distance over the 68 points."""
    return (points - reference).norm(dim=-1).mean(dim=1)


class AKD(Metric):
    needs_reference = True
    reasons = (no_face("output", "landmark"), no_face("ground truth", "landmark"))

    def __init__(self, landmarks: FaceAnalysis, *, suffix: str = "") -> None:
        self.name = f"akd{suffix}"
        self.landmarks = landmarks
        self._cols = (f"akd{suffix}", f"akd_l2{suffix}", f"mkr{suffix}", f"face_found_output{suffix}")
        self.columns = (
            Column(self._cols[0], higher_is_better=False, low=0.0),
            Column(self._cols[1], higher_is_better=False, low=0.0),
            Column(self._cols[2], higher_is_better=False, low=0.0, high=1.0),
            Column(self._cols[3], higher_is_better=True, low=0.0, high=1.0),
        )

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        out = self.landmarks(batch.output, suite_content=False)
        gt = self.landmarks(batch.target, suite_content=True)
        missing = (~out.found).float()
        mkr = torch.where(gt.found, missing, torch.full_like(missing, float("nan")))
        values = (akd(out.points, gt.points), akd_l2(out.points, gt.points), mkr, out.found.float())
        return dict(zip(self._cols, values, strict=True)) | {UNSCORED: reason_codes(~out.found, ~gt.found)}


def build(ctx: MetricContext, *, landmarks: str, suffix: str = "") -> AKD:
    """`landmarks`: a LANDMARKS backend (`akd_fan` binds the papers' FAN 2D: WeightsUnavailableError when its
    weight files are absent); `suffix` names the columns of a variant (`akd_fan`, `mkr_fan`, ...)."""
    return AKD(landmark_analysis(ctx, landmarks), suffix=suffix)
