"""AED (average identity embedding distance) to the ground truth, and identity distance to the source.

As the papers compute it (pose-evaluation `cmp.py`): per frame the squared L2 distance between the
identity embeddings of the generated and the ground-truth frame; AED is its mean. The papers' network is
OpenFace nn4.small2 on the whole frame (`aed_openface`, needs `openface.pth`); the default `aed` uses
dlib's ResNet descriptor on the aligned face (offline here; both embeddings are unit-scale, but numbers
are comparable between models evaluated here, not with published tables). NaN where either frame has no
detectable face (dlib); `akd`'s `face_found_output` and `mkr` report those frames.

`id_source` (cross protocol, no ground truth): the same distance to the source image, i.e. how much of
the source identity the animation keeps.

Metric card. *Range* [0, 4] (squared distance of unit vectors), lower is better; dlib's same-person
threshold is 0.36 (0.6 L2). *Reference*: the ground truth against itself is 0 and the same person
stays under 0.36 (tests). *Unscored* frames are counted by reason: the identity backend found no face
in the output or in the reference - its own detector, so a frame can have landmarks (`akd`) and no
embedding. *Failure modes*: small or dim faces lose the detection; the embedding is trained for
recognition, so expression changes move it a little.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, identity_analysis, no_face
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes


class IdentityDistance(Metric):
    def __init__(self, identity: FaceAnalysis, *, name: str, reference: Literal["target", "source"]) -> None:
        self.name = name
        self.identity = identity
        self.reference = reference
        self.needs_reference = reference == "target"
        self.columns = (Column(name, higher_is_better=False, low=0.0, high=4.0),)
        ref = "ground truth" if self.needs_reference else "source"
        self.reasons = (no_face("output", "identity"), no_face(ref, "identity"))

    def _reference_frames(self, batch: FrameBatch) -> Tensor:
        if self.reference == "source":
            return batch.source[None]  # the pair's one source image, as a batch of one
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        return batch.target

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        out = self.identity(batch.output, suite_content=False)
        ref = self.identity(self._reference_frames(batch), suite_content=True)
        codes = reason_codes(~out.found, ~ref.found.expand(len(out)))
        return {self.name: ((out.vectors - ref.vectors) ** 2).sum(dim=1), UNSCORED: codes}


def build(
    ctx: MetricContext, *, identity: str, name: str = "aed", reference: Literal["target", "source"] = "target"
) -> IdentityDistance:
    """`identity`: an IDENTITY backend (`aed_openface` binds the papers' network: WeightsUnavailableError when
    `openface.pth` is absent); `reference="source"` is `id_source`, the cross-protocol distance to the source."""
    return IdentityDistance(identity_analysis(ctx, identity), name=name, reference=reference)
