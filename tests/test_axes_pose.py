"""Pose axis: the mesh and PnP fits against exact projections, in-plane rotations of a real frame
for roll, the repository's real clips and photos with expectations from looking at the frames
(data/SOURCES.md: vrt_face5 is frontal and turns slowly, lp_s32 is a 3/4 view turned to her right,
ddfa2_emma_profile is near-profile, lp_d12 looks up), and the accuracy targets on the labelled
AFLW2000-3D samples of ../shared (skipped when absent)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from qa_harness.labelled import load_aflw2000
from qa_harness.suites.axes.headpose import (
    CANONICAL_68,
    CANONICAL_MESH,
    MESH_WEIGHTS,
    euler_angles,
    fit_rotation,
    mesh_rotation,
    rotation_from_angles,
    rotation_gap,
)
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"
AFLW = DATA.parents[1] / "shared" / "data" / "labels" / "aflw2000_subset"
needs_aflw = pytest.mark.skipif(not AFLW.is_dir(), reason=f"labelled AFLW2000 samples absent ({AFLW})")


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


@pytest.mark.parametrize("angles", [(0, 0, 0), (35, 0, 0), (-50, 15, 5), (0, -20, 0), (10, 5, -30)])
def test_mesh_fit_recovers_the_rotation_of_a_posed_canonical_face(angles):
    # Reference: the canonical face turned by a known rotation, scaled to pixels and shifted, seen
    # under weak perspective (what Face Mesh's x, y, z are), with 0.3 px of seeded noise.
    rotation = rotation_from_angles(*angles)
    noise = np.random.default_rng(0).normal(0, 0.3, CANONICAL_MESH.shape)
    mesh = 1.7 * CANONICAL_MESH @ rotation.T + np.array([200.0, 240.0, 0.0]) + noise
    np.testing.assert_allclose(euler_angles(mesh_rotation(mesh)), angles, atol=0.3)
    assert mesh_rotation(np.full((478, 3), np.nan)) is None


@pytest.mark.skipif(not (AFLW.parent / "mediapipe_geometry").is_dir(), reason="MediaPipe geometry originals absent")
def test_packaged_canonical_face_is_mediapipes():
    # The packaged table against the original files in ../shared (google-ai-edge/mediapipe).
    folder = AFLW.parent / "mediapipe_geometry"
    lines = (folder / "canonical_face_model.obj").read_text().splitlines()
    vertices = np.array([line.split()[1:4] for line in lines if line.startswith("v ")], float) * [10, -10, -10]
    np.testing.assert_allclose(CANONICAL_MESH, vertices - vertices[4], atol=1e-9)  # mm, head axes, nose tip 0
    text = (folder / "geometry_pipeline_metadata_landmarks.pbtxt").read_text()
    weights = dict(re.findall(r"landmark_id: (\d+) weight: ([\d.e-]+)", text))
    assert {i for i in range(len(MESH_WEIGHTS)) if MESH_WEIGHTS[i] > 0} == {int(i) for i in weights}
    assert all(MESH_WEIGHTS[int(i)] == pytest.approx(float(w)) for i, w in weights.items())


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
    assert set(frontal.frame_labels["pitch"]) == {"level"}
    assert frontal.clip_values["pose_gap"] < 15  # she turns by about 14 degrees of yaw over 5 s
    assert np.all(turned.measures["pose.pose_gap"][0] == 0)


def test_profile_photo_is_extreme_and_upward_photo_is_tilted(pose):
    profile = pose.tag_clip(DATA / "photos" / "ddfa2_emma_profile.jpg")
    assert profile.clip_labels["yaw"] == "extreme"
    up = pose.tag_clip(DATA / "photos" / "lp_d12.jpg")
    assert up.clip_values["pitch"] > 12 and up.measures["pose.pitch"][0] > 0
    portrait = pose.tag_clip(DATA / "photos" / "ddfa2_jianzhu.jpg")
    assert portrait.clip_labels == {"yaw": "frontal", "pitch": "level", "roll": "upright", "pose_gap": "small"}


@pytest.mark.parametrize("degrees", [-30, -15, 15, 30])
def test_roll_follows_an_in_plane_rotation_of_a_real_frame(pose, degrees):
    # Rotating the image counter-clockwise by d degrees (PIL) rolls the head by +d and leaves yaw
    # and pitch alone; tolerance 2 degrees (the fit's roll error on AFLW2000 is 1).
    photo = Image.open(DATA / "photos" / "ddfa2_jianzhu.jpg").convert("RGB")
    side = min(photo.size)
    photo = photo.crop((0, 0, side, side))
    frames = np.stack([np.asarray(photo), np.asarray(photo.rotate(degrees, Image.BICUBIC, fillcolor=(128,) * 3))])
    tags = pose.tag_frames(frames)
    yaw, pitch, roll = (tags.measures[f"pose.{a}"] for a in ("yaw", "pitch", "roll"))
    assert roll[1] - roll[0] == pytest.approx(degrees, abs=2.0)
    assert abs(yaw[1] - yaw[0]) < 2.0 and abs(pitch[1] - pitch[0]) < 2.0


@needs_aflw
@pytest.mark.parametrize("resolution", [None, 256], ids=["own_size", "suite_256"])
def test_pose_meets_the_accuracy_targets_on_aflw2000(pose, resolution):
    # Targets (issue 12): mean abs error <= 3.5 / 4.0 / 2.0 degrees (yaw / pitch / roll) and |bias|
    # <= 2 on the valid samples with a face; faces looking down >= 10 degrees tagged `down`
    # (all but one: the fit's pitch error reaches 6 degrees). At 256 px (a default suite) Face Mesh
    # also finds a 62-degree profile and reads it 27 degrees short: yaw 3.48 / bias 1.97, at the limit.
    samples = [s for s in load_aflw2000(AFLW) if s.valid]
    rows = []
    for s in samples:
        tags = pose.tag_clip(s.image, resolution=resolution)
        rows.append([tags.measures[f"pose.{a}"][0] for a in ("yaw", "pitch", "roll")] + [tags.frame_labels["pitch"][0]])
    estimate = np.array([r[:3] for r in rows], dtype=np.float64)
    truth = np.array([(s.yaw, s.pitch, s.roll) for s in samples])
    found = ~np.isnan(estimate[:, 0])
    assert found.sum() >= 26  # Face Mesh misses profiles beyond ~60 degrees (3 of 29)
    error = estimate[found] - truth[found]
    assert np.all(np.abs(error).mean(axis=0) <= [3.5, 4.0, 2.0])
    assert np.all(np.abs(error.mean(axis=0)) <= 2.0)
    down = [r[3] for r, s, f in zip(rows, samples, found, strict=True) if f and s.pitch <= -10]
    assert len(down) >= 8 and down.count("down") >= len(down) - 1


def test_faceless_frames_are_unknown(pose):
    tags = pose.tag_frames(np.full((2, 96, 96, 3), 90, np.uint8))
    assert tags.frame_labels["yaw"] == ("unknown", "unknown")
    assert tags.clip_labels["pose_gap"] == "unknown"
