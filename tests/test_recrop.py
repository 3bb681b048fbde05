"""The second landmark pass on the face detector's crop maps points and mesh back to the frame."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from qa_harness.landmarks.base import Landmarks
from qa_harness.landmarks.mediapipe_mesh import MediaPipeMesh
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.recrop import landmarks_in_crops
from tests.helpers.media import PHOTOS


def test_points_found_on_the_crop_land_where_the_frame_pass_put_them():
    frame = np.asarray(Image.open(PHOTOS / "ddfa2_jianzhu.jpg").convert("RGB"))[None]
    backend = MediaPipeMesh()
    direct = backend.detect(torch.from_numpy(frame).permute(0, 3, 1, 2).float() / 255)
    assert bool(direct.found[0])
    # The same frame, marked as missed by the frame pass: only the crop pass can fill it.
    missed = Landmarks.from_numpy(
        np.full((1, 68, 2), np.nan), np.zeros(1, bool), np.zeros(1), np.full(direct.mesh.shape, np.nan)
    )
    again = landmarks_in_crops(backend, frame, detect_faces(frame), missed)
    assert bool(again.found[0])
    points, ref = again.points.numpy()[0], direct.points.numpy()[0]
    iod = np.linalg.norm(ref[36] - ref[45])
    # Two detections of one face at different scales: within 3 % of the eye distance on average.
    assert np.linalg.norm(points - ref, axis=1).mean() < 0.03 * iod
    mesh, ref_mesh = again.mesh.numpy()[0], direct.mesh.numpy()[0]
    assert np.linalg.norm(mesh[:, :2] - ref_mesh[:, :2], axis=1).mean() < 0.03 * iod
    assert np.corrcoef(mesh[:, 2], ref_mesh[:, 2])[0, 1] > 0.95  # depth on the frame's scale again
    assert np.abs(mesh[:, 2] - ref_mesh[:, 2]).mean() < 0.05 * iod
