"""Landmark/identity analysis for the face metrics: suite content once (disk cache), outputs once per batch.

Why a cache: ground-truth, driving and source frames are the same for every model evaluated on a suite, and
face analysis is the slow part (tens of frames/s on a CPU). Results for suite content are stored under
`<ctx.cache_dir>/face/<kind>-<backend>-<backend version>/<suite version>/<content hash>.npz` (`_suite_cache`);
the content hash covers the exact frames the backend would see, so a changed clip, crop or resolution
misses the cache and a changed detector (name/version) lands in another folder. With no cache_dir the store is in
memory (one process). Model outputs are never stored; several metrics asking about the same output batch
share one backend call (a memo of the last few tensors, keyed by identity).

Detectors run on the CPU (dlib, mediapipe) or on `ctx.device` (FAN, OpenFace); results are moved to the
batch's device so that metric arithmetic stays batched there.
"""

from __future__ import annotations

import functools
from collections import deque
from pathlib import Path

from torch import Tensor

from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.landmarks.base import LandmarkBackend, Landmarks
from qa_harness.metrics._suite_cache import SuiteCache, content_hash
from qa_harness.metrics.base import MetricContext

__all__ = ["FaceAnalysis", "content_hash", "identity_analysis", "landmark_analysis", "no_face"]

Result = Landmarks | Embeddings

#: Why a face metric leaves a frame unscored (its `reasons`): which frame had no face, for which backend.
NO_FACE = "no face found in the {frame} by the {kind} backend"


def no_face(frame: str, kind: str) -> str:
    """The reason text for a frame (output, ground truth, driving, source) without a face for a backend kind."""
    return NO_FACE.format(frame=frame, kind=kind)


class FaceAnalysis:
    """One backend (landmarks or identity) behind the suite-content cache and the output memo.

    `faces` (identity only): the landmark analysis whose faces the identity backend embeds instead of
    detecting its own (`IdentityBackend.embed(frames, faces)`), so one detection per frame serves every
    face metric of a batch; the cache folder then names that landmark backend too.
    """

    def __init__(
        self,
        backend: LandmarkBackend | IdentityBackend,
        *,
        cache_dir: Path | None,
        suite_version: str,
        faces: FaceAnalysis | None = None,
    ) -> None:
        self.backend, self.faces = backend, faces
        if isinstance(backend, LandmarkBackend):
            self.kind, self._load = "landmarks", Landmarks.from_numpy
        else:
            self.kind, self._load = "identity", Embeddings.from_numpy
        tag = f"{self.kind}-{backend.name}-{backend.version}"
        if faces is not None:
            tag += f"-{backend.faces_version}-on-{faces.backend.name}-{faces.backend.version}"
        self.store = SuiteCache(cache_dir, area="face", tag=tag, suite_version=suite_version)
        self._memory: dict[str, Result] = {}
        #: output, target, driving and source of the current batch
        self._recent: deque[tuple[Tensor, Result]] = deque(maxlen=4)

    def _run(self, frames: Tensor, *, suite_content: bool) -> Result:
        if isinstance(self.backend, LandmarkBackend):
            return self.backend.detect(frames)
        if self.faces is None:
            return self.backend.embed(frames)
        return self.backend.embed(frames, self.faces(frames, suite_content=suite_content))

    def __call__(self, frames: Tensor, *, suite_content: bool) -> Result:
        """Landmarks or Embeddings of `frames`, on the frames' device.

        `suite_content`: True for ground-truth, driving and source frames (cached across runs), False for
        model output (memoised for the current batch only).
        """
        for seen, result in self._recent:
            if seen is frames:
                return result
        result = (self._cached(frames) if suite_content else self._run(frames, suite_content=False)).to(frames.device)
        self._recent.append((frames, result))
        return result

    def _cached(self, frames: Tensor) -> Result:
        key = content_hash(frames)
        if key in self._memory:
            return self._memory[key]
        stored = self.store.load(key)
        if stored is not None:
            result = self._load(**stored)
        else:
            result = self._run(frames, suite_content=True)
            self.store.store(key, result.to_numpy())
        self._memory[key] = result
        return result


@functools.cache
def landmark_analysis(ctx: MetricContext, backend: str) -> FaceAnalysis:
    """The shared analysis for a landmark backend by registry name (one per context and name)."""
    from qa_harness.catalog import LANDMARKS

    built = LANDMARKS.build(backend, device=ctx.device)
    return FaceAnalysis(built, cache_dir=ctx.cache_dir, suite_version=ctx.suite_version)


@functools.cache
def identity_analysis(ctx: MetricContext, backend: str, landmarks: str | None = None) -> FaceAnalysis:
    """The shared analysis for an identity backend by registry name (one per context and names); with
    `landmarks`, it embeds the faces that landmark backend's shared analysis found (no detector of its own)."""
    from qa_harness.catalog import IDENTITY

    built = IDENTITY.build(backend, device=ctx.device)
    faces = landmark_analysis(ctx, landmarks) if landmarks is not None else None
    return FaceAnalysis(built, cache_dir=ctx.cache_dir, suite_version=ctx.suite_version, faces=faces)
