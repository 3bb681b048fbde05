"""An object held at the mouth (`suites/held.py`): the corridor's geometry on a real portrait's
landmarks with hands placed by hand, and the measure on the portrait without an object (no false
alarm). The positive case, a real microphone (HandOverFace 27), needs ../shared and is pinned in
tests/test_tags_labelled_occlusion_lighting.py: a drawn microphone is not `person` to the selfie
segmentation (a floating blob), so no synthetic frame here can stand in for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qa_harness.suites.axes.occlusion import HELD_EDGE, keypoints_from_landmarks
from qa_harness.suites.held import CORRIDOR_WIDTH, HOLD_REACH, MIN_AREA, Segmenter, corridors, held_object
from qa_harness.suites.tagging import Tagger, build_axes

PHOTO = Path(__file__).resolve().parents[1] / "data" / "photos" / "ddfa2_jianzhu.jpg"


@pytest.fixture(scope="module")
def portrait():
    """The clean frontal portrait, its landmarks, keypoints, eye distance and the unit eye-line vector
    towards its image-right mouth corner."""
    frame = np.asarray(Image.open(PHOTO).convert("RGB"))
    points = Tagger(build_axes(["occlusion"])).observe(frame[None]).landmarks.points.numpy()[0]
    keypoints = keypoints_from_landmarks(points)
    iod = float(np.linalg.norm(keypoints[1] - keypoints[0]))
    return frame, points, keypoints, iod, np.array([1.0, 0.0])


def _hand(keypoints, iod, along, distance):
    """A whole Pose hand (wrist, pinky, index, thumb) whose nearest point lies `distance` eye distances
    to the image right of the mouth, the rest farther out."""
    near = keypoints[3] + distance * iod * along
    return np.stack([near + np.array(d) * iod for d in ((0.5, 0.3), (0.2, 0.3), (0.0, 0.0), (0.1, 0.2))])[None]


def test_a_corridor_runs_from_a_hand_beside_the_face_to_the_mouth_outside_the_face(portrait):
    frame, points, keypoints, iod, along = portrait
    shape = frame.shape[:2]
    (corridor,) = corridors(shape, keypoints, points, _hand(keypoints, iod, along, 1.6))
    assert corridor.sum() >= MIN_AREA * iod**2
    ys, xs = np.nonzero(corridor)
    assert xs.min() > points[54, 0]  # beyond the mouth corner: the face outline is left out
    assert xs.max() <= keypoints[3, 0] + (1.6 + CORRIDOR_WIDTH / 2) * iod + 1  # to the hand, round cap
    # beyond reach, or over the face (a hand on the cheek is the hands cue's business): no corridor
    assert corridors(shape, keypoints, points, _hand(keypoints, iod, along, HOLD_REACH + 0.2)) == []
    assert corridors(shape, keypoints, points, _hand(keypoints, iod, along, 0.3)) == []
    assert corridors(shape, keypoints, points, np.zeros((0, 4, 2))) == []


def test_a_hand_beside_a_clean_face_holds_nothing(portrait):
    frame, points, keypoints, iod, along = portrait
    segmenter = Segmenter()
    # the corridor crosses the background beside the cheek: not person (measured 0.02)
    assert held_object(frame, keypoints, points, _hand(keypoints, iod, along, 1.6), segmenter) < HELD_EDGE / 5
    assert held_object(frame, keypoints, points, np.zeros((0, 4, 2)), segmenter) == 0.0
    grey = np.repeat(frame.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert np.isnan(held_object(grey, keypoints, points, _hand(keypoints, iod, along, 1.6), segmenter))
