"""Ground-truth face analysis is computed once per (suite version, backend version) and reused from disk."""

from __future__ import annotations

import numpy as np
import torch

from qa_harness.catalog import IDENTITY, LANDMARKS
from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.landmarks.base import LandmarkBackend, Landmarks
from qa_harness.metrics import aed, akd, ear_mar, face_nme, face_regions
from qa_harness.metrics._face_analysis import FaceAnalysis
from tests.helpers.face import make_batch, source_and_target

CPU = torch.device("cpu")


class CountingLandmarks(LandmarkBackend):
    """A real backend that records every batch it is asked to analyse."""

    def __init__(self, inner: LandmarkBackend) -> None:
        self.inner, self.name, self.version = inner, inner.name, inner.version
        self.seen: list[torch.Tensor] = []

    def detect(self, frames: torch.Tensor) -> Landmarks:
        self.seen.append(frames)
        return self.inner.detect(frames)


class CountingIdentity(IdentityBackend):
    def __init__(self, inner: IdentityBackend) -> None:
        self.inner, self.name, self.version, self.dim = inner, inner.name, inner.version, inner.dim
        self.seen: list[torch.Tensor] = []

    def embed(self, frames: torch.Tensor) -> Embeddings:
        self.seen.append(frames)
        return self.inner.embed(frames)


def _evaluate(lm: FaceAnalysis, ident: FaceAnalysis, output: torch.Tensor, target: torch.Tensor) -> dict:
    """Every reconstruction face metric on one batch, as the runner would call them."""
    batch = make_batch(output, target)
    metrics = [
        akd.AKD(lm),
        face_regions.FaceRegions(lm),
        face_nme.FaceNME(lm),
        ear_mar.EarMar(lm, reference="target"),
        aed.IdentityDistance(ident, name="aed", reference="target"),
    ]
    values: dict = {}
    for metric in metrics:
        values |= {k: v.numpy() for k, v in metric.frame_values(batch).items()}
    return values


def test_second_evaluation_does_no_ground_truth_analysis(tmp_path) -> None:
    mediapipe, dlib = LANDMARKS.build("mediapipe", device=CPU), IDENTITY.build("dlib", device=CPU)
    _, target = source_and_target()
    target = target[:8].clone()

    def fresh() -> tuple[CountingLandmarks, CountingIdentity, FaceAnalysis, FaceAnalysis]:
        """New analyses over a shared cache folder: what a second `evaluate` process starts with."""
        cl, ci = CountingLandmarks(mediapipe), CountingIdentity(dlib)
        lm = FaceAnalysis(cl, cache_dir=tmp_path, suite_version="suite-v1")
        ident = FaceAnalysis(ci, cache_dir=tmp_path, suite_version="suite-v1")
        return cl, ci, lm, ident

    # Cold: one landmark and one identity call each for ground truth and output, shared by all metrics.
    cl, ci, lm, ident = fresh()
    model_a = target.clone()
    cold = _evaluate(lm, ident, model_a, target)
    assert [f is target for f in cl.seen] == [False, True] and [f is target for f in ci.seen] == [False, True]
    stored = sorted(p.relative_to(tmp_path).parts[:3] for p in tmp_path.rglob("*.npz"))
    assert stored == [
        ("face", f"identity-dlib-{dlib.version}", "suite-v1"),
        ("face", f"landmarks-mediapipe-{mediapipe.version}", "suite-v1"),
    ]

    # Warm, another model: only its output is analysed; ground-truth results come from disk unchanged.
    cl, ci, lm, ident = fresh()
    model_b = target.flip(-1)
    warm = _evaluate(lm, ident, model_b, target)
    assert len(cl.seen) == 1 and cl.seen[0] is model_b
    assert len(ci.seen) == 1 and ci.seen[0] is model_b
    again = _evaluate(lm, ident, model_a, target)
    for column in cold:
        np.testing.assert_array_equal(again[column], cold[column])
    assert np.nanmean(warm["akd"]) > 1.0  # a mirrored face is not the ground truth

    # Other content (one pixel changed) misses the cache.
    cl, ci, lm, ident = fresh()
    changed = target.clone()
    changed[0, 0, 0, 0] = 1 - changed[0, 0, 0, 0]
    lm(changed, suite_content=True)
    assert len(cl.seen) == 1


def test_without_cache_dir_results_are_kept_in_memory_only(tmp_path) -> None:
    cl = CountingLandmarks(LANDMARKS.build("mediapipe", device=CPU))
    lm = FaceAnalysis(cl, cache_dir=None, suite_version="")
    _, target = source_and_target()
    first = lm(target[:4].clone(), suite_content=True)
    second = lm(target[:4].clone(), suite_content=True)
    assert len(cl.seen) == 1 and torch.equal(first.found, second.found)
    assert not list(tmp_path.iterdir())
