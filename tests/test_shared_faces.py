"""One face analysis per frame for every face metric: AED embeds the face the landmark analysis found.

Reference: dlib's own HOG detection (the identity backend without `faces`, the path AED took before), on
real demo clips (decoded and cropped as `suites/demo.yaml` says) with the `identity` model's output (the
source frame held). Tolerance, measured on the demo suite's 240 frames: per-frame AED within 0.0163 and
40-frame clip means within 0.0019 of the HOG path (`benchmarks/shared_face_bench.py` asserts 0.005 on
the whole suite). Here, on 4 frames of 2 clips: 0.02 per frame, 0.01 for the 4-frame mean (dlib's
same-person threshold is 0.36).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qa_harness.catalog import IDENTITY, LANDMARKS
from qa_harness.executors.worker import build_metrics
from qa_harness.metrics import aed, akd
from qa_harness.metrics._face_analysis import FaceAnalysis, no_face
from qa_harness.metrics.base import UNSCORED, MetricContext
from qa_harness.suites.manifest import load_suite
from qa_harness.video.io import iter_frames
from tests.helpers.face import make_batch
from tests.helpers.media import REPO
from tests.test_face_cache import CountingLandmarks

CPU = torch.device("cpu")
CLIPS = ("vrt_face5", "lp_s32")  # the largest per-frame gap of the demo suite, and a cropped clip
N = 4


@pytest.mark.slow
def test_aed_on_shared_landmarks_matches_dlib_own_detection_within_tolerance() -> None:
    dlib = IDENTITY.build("dlib", device=CPU)
    counted = CountingLandmarks(LANDMARKS.build("mediapipe", device=CPU))
    lm = FaceAnalysis(counted, cache_dir=None, suite_version="")
    shared = aed.IdentityDistance(
        FaceAnalysis(dlib, cache_dir=None, suite_version="", faces=lm), name="aed", reference="target"
    )
    own = aed.IdentityDistance(FaceAnalysis(dlib, cache_dir=None, suite_version=""), name="aed", reference="target")
    hog_calls = []
    real_best_face = dlib._finder.best_face
    suite = {p.driving.id: p.driving for p in load_suite(REPO / "suites" / "demo.yaml").pairs}
    means = []
    for clip in CLIPS:
        frames = next(iter_frames(suite[clip].path, resolution=256, crop=suite[clip].crop, chunk=40, max_frames=40))
        target = frames[1 : 1 + 8 * N : 8].contiguous()  # 4 frames over the clip's 40
        for output in (frames[:1].expand(N, -1, -1, -1).contiguous(),):  # the `identity` model's output
            batch = make_batch(output, target)
            akd_values = akd.AKD(lm).frame_values(batch)
            detections = len(counted.seen)
            dlib._finder.best_face = lambda image: hog_calls.append(1) or real_best_face(image)
            after = shared.frame_values(batch)
            assert hog_calls == [] and len(counted.seen) == detections  # akd's detections served AED too
            before = own.frame_values(batch)
            dlib._finder.best_face = real_best_face
            assert len(hog_calls) == 2 * N  # the reference path detects output and ground truth itself
            hog_calls.clear()
            a, b = after["aed"].numpy(), before["aed"].numpy()
            assert np.isfinite(a).all() and np.isfinite(b).all() and (after[UNSCORED] == 0).all()
            np.testing.assert_allclose(a, b, atol=0.02, err_msg=clip)
            means.append((a.mean(), b.mean()))
            assert akd_values["face_found_output"].bool().all()  # AED and akd agree on where a face is
    gaps = np.abs(np.subtract(*np.array(means).T))
    assert gaps.max() <= 0.01, gaps
    assert min(m for m, _ in means) > 0.005  # the held source frame is not the ground truth: AED is not 0
    assert shared.reasons == (no_face("output", "landmark"), no_face("ground truth", "landmark"))


def test_default_face_metrics_share_one_landmark_analysis() -> None:
    """As the runner builds them: aed, id_source and every landmark metric use one analysis object (one
    detection per output batch, via its memo); `landmarks: null` brings back dlib's own detector."""
    ctx = MetricContext(device=CPU)
    names = ("akd", "aed", "id_source", "face_regions", "ear_mar", "landmark_jitter", "flicker")
    metrics, unavailable = build_metrics(names, ctx, {})
    assert not unavailable
    by_name = {m.name: m for m in metrics}
    shared = by_name["akd"].landmarks
    assert by_name["aed"].identity.faces is shared and by_name["id_source"].identity.faces is shared
    assert all(by_name[n].landmarks is shared for n in ("face_regions", "ear_mar", "landmark_jitter", "flicker"))
    (own,), _ = build_metrics(("aed",), ctx, {"aed": {"landmarks": None}})
    assert own.identity.faces is None and own.reasons[0] == no_face("output", "identity")
