"""Temporal metrics on real frames: the ground truth scores 0, shuffled/jittered output clearly worse,
static degradations barely move them, analytic answers for brightness changes, counts of unscored frames.

Independent references: numpy second differences of the backend's landmarks (landmark_jitter); a
per-frame brightness offset c_t added to the ground truth, for which both flicker and warp_error are
exactly 255 |c_t - c_(t-1)| (a constant survives the mean over the face box and the warp alike).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qa_harness.catalog import LANDMARKS
from qa_harness.metrics import temporal
from qa_harness.metrics._face_analysis import FaceAnalysis
from qa_harness.metrics.base import UNSCORED, FrameBatch
from qa_harness.records import Clip, Pair
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS

N, RES = 12, 128


@pytest.fixture(scope="module")
def lm() -> FaceAnalysis:
    return FaceAnalysis(LANDMARKS.build("mediapipe", device=torch.device("cpu")), cache_dir=None, suite_version="")


@pytest.fixture(scope="module")
def target() -> torch.Tensor:
    """12 frames of d12 (head moves, mouth opens), squeezed into [0.05, 0.95] so offsets never clip."""
    frames = next(iter_frames(CLIPS / "d12.mp4", resolution=RES, chunk=N, max_frames=N))
    return frames * 0.9 + 0.05


def _metrics(lm) -> dict[str, object]:
    return {
        "landmark_jitter": lambda: temporal.LandmarkJitter(lm, reference="target"),
        "flicker": lambda: temporal.Flicker(lm, reference="target"),
        "warp_error": temporal.WarpError,
    }


def score(
    metric, output: torch.Tensor, target: torch.Tensor | None, *, batch: int = 4, driving=None, pair_id: str = "d12"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values and reason codes, fed in batches as the runner does."""
    clip = Clip(id="d12", path=CLIPS / "d12.mp4", fps=25.0, frame_count=len(output), size=(RES, RES))
    pair = Pair(id=pair_id, source=clip, driving=clip, protocol="reconstruction" if target is not None else "cross")
    driving = target if driving is None else driving
    values, codes = [], []
    for s in range(0, len(output), batch):
        part = slice(s, s + batch)
        out = metric.frame_values(
            FrameBatch(
                pair=pair,
                frames=torch.arange(s, min(s + batch, len(output))),
                output=output[part],
                driving=driving[part],
                source=driving[0],
                target=None if target is None else target[part],
            )
        )
        codes.append(out.pop(UNSCORED).numpy())
        values.append(out[metric.name].numpy())
    return np.concatenate(values), np.concatenate(codes)


def _blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    k = torch.exp(-(torch.arange(-3, 4, dtype=torch.float32) ** 2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, 7).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), k.transpose(2, 3), groups=3)


def _jitter(x: torch.Tensor, px: int = 2) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.stack([torch.roll(f, tuple(int(v) for v in rng.integers(-px, px + 1, 2)), dims=(1, 2)) for f in x])


def test_ground_truth_scores_exactly_zero_and_first_frames_are_counted(lm, target) -> None:
    for name, build in _metrics(lm).items():
        values, codes = score(build(), target.clone(), target)
        lag = 2 if name == "landmark_jitter" else 1
        assert np.isnan(values[:lag]).all() and (values[lag:] == 0).all(), name
        assert codes[:lag].tolist() == [1] * lag and (codes[lag:] == 0).all(), name


def test_values_do_not_depend_on_the_batch_size(lm, target) -> None:
    """The history carries the previous batch's last frames, so batches of 4, 5 and 12 agree exactly."""
    output = _jitter(target)
    for name, build in _metrics(lm).items():
        whole = score(build(), output, target, batch=12)[0]
        for batch in (4, 5):
            np.testing.assert_array_equal(score(build(), output, target, batch=batch)[0], whole, err_msg=name)


def test_shuffled_and_jittered_outputs_score_clearly_worse_than_static_degradations(lm, target) -> None:
    """Measured on these frames: static blur (sigma 1) stays under 1/3 of 2 px jitter for every metric and
    under 1/10 of a shuffled output (where the metric is about geometry or motion)."""
    perm = torch.from_numpy(np.random.default_rng(1).permutation(N))
    for name, build in _metrics(lm).items():
        blur = np.nanmean(score(build(), _blur(target), target)[0])
        jitter = np.nanmean(score(build(), _jitter(target), target)[0])
        shuffled = np.nanmean(score(build(), target[perm], target)[0])
        assert blur < jitter / 3 and blur < shuffled / 10, (name, blur, jitter, shuffled)


def test_brightness_flicker_has_the_analytic_score(lm, target) -> None:
    offsets = torch.tensor(np.random.default_rng(2).uniform(-0.04, 0.04, N), dtype=torch.float32)
    output = target + offsets.view(-1, 1, 1, 1)
    expected = 255 * np.abs(np.diff(offsets.numpy()))
    for build in (lambda: temporal.Flicker(lm, reference="target"), temporal.WarpError):
        values = score(build(), output, target)[0]
        np.testing.assert_allclose(values[1:], expected, atol=2e-3)  # float32 sums over the box / frame
    const = score(temporal.WarpError(), target + 0.03, target)[0]
    assert np.nanmax(const) < 2e-3  # a constant colour shift is not temporal


def test_landmark_jitter_matches_numpy_second_differences(lm, target) -> None:
    output = _jitter(target)
    p_out = lm(output, suite_content=False).points.numpy().astype(np.float64)
    p_ref = lm(target, suite_content=True).points.numpy().astype(np.float64)
    iod = np.linalg.norm(p_ref[:, 36] - p_ref[:, 45], axis=-1)
    acc = lambda p: p[2:] - 2 * p[1:-1] + p[:-2]  # noqa: E731
    expected = 100 * np.linalg.norm(acc(p_out) - acc(p_ref), axis=-1).mean(axis=1) / iod[2:]
    got = score(temporal.LandmarkJitter(lm, reference="target"), output, target)[0]
    np.testing.assert_allclose(got[2:], expected, rtol=1e-4)


def test_faceless_frames_are_unscored_with_their_reason(lm, target) -> None:
    output = target.clone()
    output[6] = 0.5  # grey frame: no face
    metric = temporal.LandmarkJitter(lm, reference="target")
    values, codes = score(metric, output, target)
    assert np.isnan(values[6:9]).all() and np.isfinite(np.delete(values, [0, 1, 6, 7, 8])).all()
    assert [metric.reasons[c - 1] for c in codes[6:9]] == [temporal.NO_FACE_OUTPUT] * 3


def test_cross_variants_need_no_ground_truth(lm, target) -> None:
    """Driving against itself: zero jitter. A still photo: zero output flicker; the driving's motion: some."""
    jitter = temporal.LandmarkJitter(lm, reference="driving")
    values = score(jitter, target.clone(), None, driving=target)[0]
    assert not jitter.needs_reference and (values[2:] == 0).all()
    flicker = temporal.Flicker(lm, reference="none")
    still = score(flicker, target[:1].expand(N, -1, -1, -1).clone(), None, driving=target)[0]
    assert (still[1:] == 0).all() and np.nanmean(score(flicker, _jitter(target), None, driving=target)[0]) > 0.1


def test_warm_warp_error_computes_no_ground_truth_flow_and_matches_cold_bit_for_bit(target, tmp_path, monkeypatch):
    """The ground truth's flow is suite content: a second run (fresh objects over the same cache folder, as a
    second `evaluate` process) computes none of it, for another model too, and gives the cold values exactly.
    Flow calls are counted at OpenCV's Farneback (the real one runs)."""
    calls = []
    real_flow = temporal._flow
    monkeypatch.setattr(temporal, "_flow", lambda a, b: calls.append(1) or real_flow(a, b))

    def run(output: torch.Tensor, truth: torch.Tensor = target) -> tuple[np.ndarray, temporal.GroundTruthFlow]:
        flow = temporal.GroundTruthFlow(tmp_path, "suite-v1")
        return score(temporal.WarpError(flow), output, truth)[0], flow

    model_a, model_b = _jitter(target), _blur(target)
    uncached = score(temporal.WarpError(), model_a, target)[0]  # no cache_dir: nothing stored
    assert not list(tmp_path.iterdir()) and len(calls) == 2 * (N - 1)
    calls.clear()
    cold, flow = run(model_a)
    assert flow.computed == N - 1 and len(calls) == 2 * (N - 1)  # backward and forward per frame pair
    assert {p.relative_to(tmp_path).parts[:3] for p in tmp_path.rglob("*.npz")} == {
        ("flow", temporal.FLOW_TAG, "suite-v1")
    }
    calls.clear()
    warm, flow = run(model_a)
    warm_b, flow_b = run(model_b)
    assert calls == [] and flow.computed == flow_b.computed == 0
    np.testing.assert_array_equal(warm, cold)
    np.testing.assert_array_equal(cold, uncached)
    assert np.nanmean(warm_b) < np.nanmean(warm) / 3  # the other model got its own score from the same flows

    changed = target.clone()
    changed[5, 0, 0, 0] = 1 - changed[5, 0, 0, 0]  # one pixel of one ground-truth frame: those batches miss
    assert run(model_a, changed)[1].computed > 0
