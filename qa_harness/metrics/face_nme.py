"""Eye and lip landmark error normalised by the inter-ocular distance (NME, as 300-W reports it).

Per frame: the mean Euclidean distance between output and ground-truth points of the eyes (36-47) and of
the lips (48-67), divided by the ground truth's outer-eye-corner distance (36-45), so that the number
does not depend on face size. Where AKD averages the whole face (jaw and brows dominate it), these two
isolate the regions that carry blinks, gaze and speech. NaN where either frame has no face.
"""

from __future__ import annotations

from torch import Tensor

from qa_harness.landmarks.base import EYES, LIPS
from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import inter_ocular
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext

PARTS = {"nme_eyes": EYES, "nme_lips": LIPS}


class FaceNME(Metric):
    name = "face_nme"
    needs_reference = True
    columns = tuple(Column(name, higher_is_better=False, low=0.0) for name in PARTS)

    def __init__(self, landmarks: FaceAnalysis) -> None:
        self.landmarks = landmarks

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        out = self.landmarks(batch.output, suite_content=False).points
        gt = self.landmarks(batch.target, suite_content=True).points
        iod = inter_ocular(gt)
        return {
            name: (out[:, list(idx)] - gt[:, list(idx)]).norm(dim=-1).mean(dim=1) / iod
            for name, idx in PARTS.items()
        }


def build(ctx: MetricContext, *, landmarks: str) -> FaceNME:
    return FaceNME(landmark_analysis(ctx, landmarks))
