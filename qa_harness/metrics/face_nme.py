"""Eye and lip landmark error normalised by the inter-ocular distance (NME, as 300-W reports it).

Per frame: the mean Euclidean distance between output and ground-truth points of the eyes (36-47) and of
the lips (48-67), divided by the ground truth's outer-eye-corner distance (36-45), so that the number
does not depend on face size. Where AKD averages the whole face (jaw and brows dominate it), these two
isolate the regions that carry blinks, gaze and speech. NaN where either frame has no face.

Metric card. *Range* >= 0 (fraction of the inter-ocular distance), lower is better, 0 for the ground
truth. *Unscored* frames are counted (no face in the output or the ground truth). *Failure modes*:
landmark jitter of the detector is a floor; profile views shrink the
inter-ocular distance and inflate the value.
"""

from __future__ import annotations

from torch import Tensor

from qa_harness.landmarks.base import EYES, LIPS
from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis, no_face
from qa_harness.metrics._face_geometry import inter_ocular
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes

PARTS = {"nme_eyes": EYES, "nme_lips": LIPS}


class FaceNME(Metric):
    name = "face_nme"
    needs_reference = True
    columns = tuple(Column(name, higher_is_better=False, low=0.0) for name in PARTS)
    reasons = (no_face("output", "landmark"), no_face("ground truth", "landmark"))

    def __init__(self, landmarks: FaceAnalysis) -> None:
        self.landmarks = landmarks

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        out = self.landmarks(batch.output, suite_content=False)
        gt = self.landmarks(batch.target, suite_content=True)
        iod = inter_ocular(gt.points)
        return {
            name: (out.points[:, list(idx)] - gt.points[:, list(idx)]).norm(dim=-1).mean(dim=1) / iod
            for name, idx in PARTS.items()
        } | {UNSCORED: reason_codes(~out.found, ~gt.found)}


def build(ctx: MetricContext, *, landmarks: str) -> FaceNME:
    return FaceNME(landmark_analysis(ctx, landmarks))
