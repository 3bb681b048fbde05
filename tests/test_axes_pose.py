"""Pose axis: the PnP fit against exact projections, then on the repository's real clips and photos
with expectations from looking at the frames (data/SOURCES.md): vrt_face5 is frontal and nearly still,
lp_s32 is a 3/4 view turned to her right, ddfa2_emma_profile is near-profile, lp_d12 looks up."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from qa_harness.suites.axes.headpose import (
    CANONICAL_68,
    euler_angles,
    fit_rotation,
    rotation_from_angles,
    rotation_gap,
)
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def pose():
    return Tagger(build_axes(["pose"]))


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-60, 10, 0), (0, 20, 0), (0, 0, 25), (40, -15, 10)])
def test_pnp_recovers_the_rotation_of_an_exact_projection(angles):
    # Reference: OpenCV's own projection of the generic face under a known pose, 600 mm away.
    rotation = rotation_from_angles(*angles)
    camera = np.array([[512.0, 0, 256], [0, 512, 256], [0, 0, 1]])
    rvec = cv2.Rodrigues(rotation)[0]
    points = cv2.projectPoints(CANONICAL_68, rvec, np.array([0.0, 0, 600]), camera, None)[0][:, 0]
    fitted = fit_rotation(points, 512, 512)
    np.testing.assert_allclose(euler_angles(fitted), angles, atol=0.1)
    assert rotation_gap(rotation, fitted) < 0.1


def test_angle_signs_follow_the_image():
    # A face turned to the image right has its nose right of the eye midpoint; roll counter-clockwise
    # as seen lifts the image-right eye.
    camera = np.array([[512.0, 0, 256], [0, 512, 256], [0, 0, 1]])

    def project(angles):
        rvec = cv2.Rodrigues(rotation_from_angles(*angles))[0]
        return cv2.projectPoints(CANONICAL_68, rvec, np.array([0.0, 0, 600]), camera, None)[0][:, 0]

    turned = project((30, 0, 0))
    assert turned[30, 0] > (turned[36, 0] + turned[45, 0]) / 2
    rolled = project((0, 0, 20))
    assert rolled[45, 1] < rolled[36, 1]
    assert rotation_gap(rotation_from_angles(0, 0, 0), rotation_from_angles(25, 0, 0)) == pytest.approx(25)


def test_turned_clip_is_not_frontal_and_frontal_clip_is(pose):
    turned = pose.tag_clip(DATA / "clips" / "lp_s32.mp4", max_frames=60, stride=10)
    frontal = pose.tag_clip(DATA / "clips" / "vrt_face5.mp4", max_frames=60, stride=10)
    labels = turned.frame_labels["yaw"]
    assert sum(label in ("moderate", "extreme") for label in labels) >= 0.8 * len(labels)
    assert turned.clip_labels["yaw"] in ("moderate", "extreme")
    assert 15 < turned.clip_values["yaw"] < 35
    assert np.nanmedian(turned.measures["pose.yaw"]) < 0  # she turns to her right: the image left
    assert set(frontal.frame_labels["yaw"]) == {"frontal"}
    assert frontal.clip_labels["pose_gap"] == "small"  # nearly static head
    assert np.all(turned.measures["pose.pose_gap"][0] == 0)


def test_profile_photo_is_extreme_and_upward_photo_is_tilted(pose):
    profile = pose.tag_clip(DATA / "photos" / "ddfa2_emma_profile.jpg")
    assert profile.clip_labels["yaw"] == "extreme"
    up = pose.tag_clip(DATA / "photos" / "lp_d12.jpg")
    assert up.clip_values["pitch"] > 12 and up.measures["pose.pitch"][0] > 0
    portrait = pose.tag_clip(DATA / "photos" / "ddfa2_jianzhu.jpg")
    assert portrait.clip_labels == {"yaw": "frontal", "pitch": "level", "roll": "upright", "pose_gap": "small"}


def test_faceless_frames_are_unknown(pose):
    tags = pose.tag_frames(np.full((2, 96, 96, 3), 90, np.uint8))
    assert tags.frame_labels["yaw"] == ("unknown", "unknown")
    assert tags.clip_labels["pose_gap"] == "unknown"
