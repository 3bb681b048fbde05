"""The classical `landmark_tps` baseline on real frames: it follows face motion, and falls back safely."""

from __future__ import annotations

import pytest
import torch

from qa_harness.catalog import MODELS
from qa_harness.errors import ConfigError
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def frame() -> torch.Tensor:
    return next(iter_frames(CLIPS / "vrt_face5.mp4", resolution=256, chunk=1))[0]


def _face_l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """L1 over the central face region (rows 60-200, columns 70-190 of a 256 px crop)."""
    return float((a[..., 60:200, 70:190] - b[..., 60:200, 70:190]).abs().mean())


def test_follows_a_face_that_moves(frame):
    model = MODELS.build("landmark_tps", device="cpu")
    driving = torch.stack([frame, torch.roll(frame, shifts=(6, 10), dims=(1, 2))])
    out = model.animate(model.prepare(frame), driving)
    assert out.shape == driving.shape
    assert _face_l1(out[0], frame) < 0.01  # same landmarks: nearly the source itself
    moved_error, still_error = _face_l1(out[1], driving[1]), _face_l1(frame, driving[1])
    assert moved_error < 0.6 * still_error, (moved_error, still_error)
    assert torch.allclose(out[1, :, :3, :3], frame[:, :3, :3], atol=2e-3)  # border anchors pin the background


def test_relative_mode_moves_by_the_driving_motion(frame):
    model = MODELS.build("landmark_tps", device="cpu", relative=True)
    assert model.needs_driving_first
    shifted = torch.roll(frame, shifts=(0, 10), dims=(1, 2))
    state = model.prepare(frame, driving_first=frame)
    out = model.animate(state, torch.stack([frame, shifted]))
    assert _face_l1(out[0], frame) < 0.01
    assert _face_l1(out[1], shifted) < 0.6 * _face_l1(frame, shifted)


def test_no_face_gives_the_source_unchanged(frame):
    model = MODELS.build("landmark_tps", device="cpu")
    out = model.animate(model.prepare(frame), torch.stack([torch.zeros_like(frame), frame]))
    assert torch.equal(out[0], frame)
    blank_source = model.prepare(torch.full_like(frame, 0.5))
    assert torch.equal(model.animate(blank_source, frame[None])[0], torch.full_like(frame, 0.5))


def test_weight_free_and_strict_options(tmp_path):
    with pytest.raises(ConfigError, match="takes no checkpoint"):
        MODELS.build("landmark_tps", checkpoint=tmp_path / "x.pth", device="cpu")
    with pytest.raises(ConfigError, match="unknown option"):
        MODELS.build("landmark_tps", device="cpu", iterations=3)
