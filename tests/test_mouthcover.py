"""The learned mouth-cover classifier (`suites/mouthcover.py`): its coefficient file's loader (a bad file
names itself), the eye alignment its features rest on, and what the shipped weights say about a clean
portrait and the same portrait with a drawn mask."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from qa_harness.errors import ConfigError
from qa_harness.suites.mouthcover import COEFFICIENTS, EYE_PX, EYE_ROW, SIZE, MouthCover, aligned, features, turned


def _write(tmp_path, payload) -> object:
    path = tmp_path / "cover.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


GOOD = {"mean": [0.0, 1.0], "scale": [1.0, 2.0], "weights": [1.0, -1.0], "bias": 0.5, "edge": 0.6, "origin": "t"}


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ("{not json", "cannot read"),
        ({k: v for k, v in GOOD.items() if k != "edge"}, "need the keys"),
        ({**GOOD, "weights": [1.0]}, "equal-length"),
        ({**GOOD, "scale": [1.0, 0.0]}, "scale > 0"),
        ({**GOOD, "weights": ["a", 1.0]}, "not numbers"),
        ({**GOOD, "edge": 1.5}, "edge within"),
    ],
)
def test_a_bad_coefficient_file_is_an_error_naming_it(tmp_path, payload, says):
    path = _write(tmp_path, payload)
    with pytest.raises(ConfigError, match=says) as err:
        MouthCover.load(path)
    assert str(path) in str(err.value)


def test_a_missing_coefficient_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="cover.json"):
        MouthCover.load(tmp_path / "cover.json")


def test_the_probability_is_the_logistic_of_the_standardised_features(tmp_path):
    model = MouthCover.load(_write(tmp_path, GOOD))
    z = (2.0 - 0.0) / 1.0 * 1.0 + (3.0 - 1.0) / 2.0 * -1.0 + 0.5  # 1.5
    assert model.probability(np.array([2.0, 3.0])) == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-12)
    assert np.isnan(model.probability(None))
    with pytest.raises(ValueError, match="3 values"):
        model.probability(np.zeros(3))


def test_the_shipped_coefficients_load_and_fit_the_features():
    model = MouthCover.load()
    assert "Face-Mask-Detection" in model.origin and "7e50074" in model.origin
    frame = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    feats = features(frame, np.array([[40.0, 50.0], [80.0, 50.0]]), (0.1, 0.2, float("nan")))
    assert feats.shape == model.mean.shape and np.isfinite(feats).all()
    assert 0.0 <= model.probability(feats) <= 1.0
    assert COEFFICIENTS.stat().st_size < 50_000


def test_alignment_puts_the_eyes_at_fixed_places_whatever_the_roll_and_size():
    """Two bright dots as eyes, turned 30 degrees in the image and 60 px apart: in the crop they sit at
    (W/2 -+ EYE_PX/2, EYE_ROW) within a pixel."""
    frame = np.zeros((200, 200, 3), np.uint8)
    centre, angle = np.array([100.0, 90.0]), np.deg2rad(30)
    half = 30.0 * np.array([np.cos(angle), np.sin(angle)])
    right, left = centre - half, centre + half
    for eye in (right, left):
        cv2.circle(frame, tuple(int(round(v)) for v in eye), 6, (255, 255, 255), -1)
    crop = aligned(frame, np.stack([right, left]))
    assert crop.shape == (SIZE[1], SIZE[0], 3)
    grey = crop[..., 0].astype(float)
    for side, x in (
        (slice(0, SIZE[0] // 2), SIZE[0] / 2 - EYE_PX / 2),
        (slice(SIZE[0] // 2, None), SIZE[0] / 2 + EYE_PX / 2),
    ):
        part = np.zeros_like(grey)
        part[:, side] = grey[:, side]
        ys, xs = np.nonzero(part > 128)
        assert xs.mean() == pytest.approx(x, abs=1.0)
        assert ys.mean() == pytest.approx(EYE_ROW, abs=1.0)
    assert aligned(frame, np.stack([right, right])) is None


def test_a_turned_face_is_left_to_the_other_cues():
    """Frontal keypoints (nose on the midline, mouth 1.1 eye distances down) are read; a nose half an
    eye distance aside, or a mouth 1.5 down (the eye distance of a profile shrinks), are not."""
    eyes = np.array([[40.0, 50.0], [80.0, 50.0]])
    assert not turned(np.vstack([eyes, [[60.0, 70.0], [60.0, 94.0]]]))
    assert turned(np.vstack([eyes, [[80.0, 70.0], [62.0, 94.0]]]))
    assert turned(np.vstack([eyes, [[60.0, 70.0], [60.0, 110.0]]]))
