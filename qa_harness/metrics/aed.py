"""AED (average identity embedding distance) to the ground truth, and identity distance to the source.

As the papers compute it (pose-evaluation `cmp.py`): per frame the squared L2 distance between the
identity embeddings of the generated and the ground-truth frame; AED is its mean. The papers' network is
OpenFace nn4.small2 on the whole frame (`aed_openface`, needs `openface.pth`); the default `aed` uses
dlib's ResNet descriptor on the aligned face (its torch port, batched on the metric device, within 1e-6 of
dlib's own; `metric_options: {aed: {identity: dlib_native}}` runs dlib's; offline here; both embeddings
are unit-scale, but numbers are comparable between models evaluated here, not with published tables).
NaN where either frame has no detectable face; by default (`landmarks=` in the catalog) dlib embeds the
face the shared landmark analysis found, so AED has a value exactly where `akd` has landmarks
(`face_found_output`, `mkr`).

`id_source` (cross protocol, no ground truth): the same distance to the source image, i.e. how much of
the source identity the animation keeps.

Metric card. *Range* [0, 4] (squared distance of unit vectors), lower is better; dlib's same-person
threshold is 0.36 (0.6 L2). *Reference*: the ground truth against itself is 0 and the same person
stays under 0.36 (tests); on the demo clips the shared-landmark box stays within 0.005 of the per-clip
mean AED and 0.02 per frame of dlib's own HOG detection (`tests/test_shared_faces.py`,
`benchmarks/shared_face_bench.py`). *Unscored* frames are counted by reason: no face in the output or in
the reference, found by the landmark backend (shared) or, without `landmarks`, by the identity backend's
own detector. *Failure modes*: small or dim faces lose the
detection; the embedding is trained for recognition, so expression changes move it a little.
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
        kind = "identity" if identity.faces is None else "landmark"  # whose detector decides a face is there
        self.reasons = (no_face("output", kind), no_face(ref, kind))

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
    ctx: MetricContext,
    *,
    identity: str,
    landmarks: str | None = None,
    name: str = "aed",
    reference: Literal["target", "source"] = "target",
) -> IdentityDistance:
    """`identity`: an IDENTITY backend (`aed_openface` binds the papers' network: WeightsUnavailableError when
    `openface.pth` is absent); `landmarks`: embed the faces this LANDMARKS backend found for the other face
    metrics (dlib: no HOG detection of its own), None: the identity backend's own detector;
    `reference="source"` is `id_source`, the cross-protocol distance to the source."""
    return IdentityDistance(identity_analysis(ctx, identity, landmarks), name=name, reference=reference)
