"""AED (average identity embedding distance) to the ground truth, and identity distance to the source.

As the papers compute it (pose-evaluation `cmp.py`): per frame the squared L2 distance between the
identity embeddings of the generated and the ground-truth frame; AED is its mean. The papers' network is
OpenFace nn4.small2 on the whole frame (`aed_openface`, needs `openface.pth`); the default `aed` uses
dlib's ResNet descriptor on the aligned face (offline here; both embeddings are unit-scale, but numbers
are comparable between models evaluated here, not with published tables). NaN where either frame has no
detectable face (dlib); `akd`'s `face_found_output` and `mkr` report those frames.

`id_source` (cross protocol, no ground truth): the same distance to the source image, i.e. how much of
the source identity the animation keeps.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, identity_analysis
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext


class IdentityDistance(Metric):
    def __init__(self, identity: FaceAnalysis, *, name: str, reference: Literal["target", "source"]) -> None:
        self.name = name
        self.identity = identity
        self.reference = reference
        self.needs_reference = reference == "target"
        self.columns = (Column(name, higher_is_better=False, low=0.0, high=4.0),)

    def _reference_frames(self, batch: FrameBatch) -> Tensor:
        if self.reference == "source":
            return batch.source[None]  # the pair's one source image, as a batch of one
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        return batch.target

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        out = self.identity(batch.output, suite_content=False).vectors
        ref = self.identity(self._reference_frames(batch), suite_content=True).vectors
        return {self.name: ((out - ref) ** 2).sum(dim=1)}


def build(ctx: MetricContext, *, identity: str, name: str = "aed",
          reference: Literal["target", "source"] = "target") -> IdentityDistance:
    """`identity`: an IDENTITY backend (`aed_openface` binds the papers' network: WeightsUnavailableError when
    `openface.pth` is absent); `reference="source"` is `id_source`, the cross-protocol distance to the source."""
    return IdentityDistance(identity_analysis(ctx, identity), name=name, reference=reference)
