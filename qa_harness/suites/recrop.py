"""Second landmark pass on the face detector's crop, for frames where the landmark backend found no
face but the detector did.

Why: Face Mesh runs its own face detector on the whole frame, which misses small faces in wide shots
and many masked or turned faces (on the labelled face-mask photos it missed 6 of 25 masked faces that
BlazeFace found). Given a crop of twice the detector's box, resized to `CROP_SIDE` pixels, it found 4
of those 6. Points (and the 3-D mesh, where the backend gives one) found in the crop are mapped back
to the frame; frames still without landmarks stay not found (an axis then reports what it cannot
measure).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from qa_harness.landmarks.base import LandmarkBackend, Landmarks
from qa_harness.suites.facebox import FaceBoxes

CROP_SIDE = 256
#: Side of the crop in units of the detector box's longer side (the box is brows to chin).
CROP_SCALE = 2.0


def crop_transform(box: np.ndarray) -> np.ndarray:
    """(2, 3) affine matrix from frame pixels to a `CROP_SIDE`² crop centred on `box`."""
    side = CROP_SCALE * max(box[2] - box[0], box[3] - box[1])
    scale = CROP_SIDE / side
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    return np.array([[scale, 0, CROP_SIDE / 2 - scale * centre[0]], [0, scale, CROP_SIDE / 2 - scale * centre[1]]])


def landmarks_in_crops(
    backend: LandmarkBackend, frames: np.ndarray, faces: FaceBoxes, landmarks: Landmarks
) -> Landmarks:
    """`landmarks` with the frames the backend missed and the detector found re-detected on crops."""
    todo = np.flatnonzero(faces.found & ~landmarks.found.numpy())
    if todo.size == 0:
        return landmarks
    matrices = [crop_transform(faces.boxes[i]) for i in todo]
    crops = np.stack(
        [
            cv2.warpAffine(frames[i], m, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_LINEAR)
            for i, m in zip(todo, matrices, strict=True)
        ]
    )
    again = backend.detect(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255)
    points, found = landmarks.points.numpy().copy(), landmarks.found.numpy().copy()
    confidence = landmarks.confidence.numpy().copy()
    mesh = None if landmarks.mesh is None or again.mesh is None else landmarks.mesh.numpy().copy()
    for k, (i, m) in enumerate(zip(todo, matrices, strict=True)):
        if bool(again.found[k]):
            scale, offset = m[0, 0], m[:, 2]
            points[i] = (again.points[k].numpy() - offset) / scale
            found[i], confidence[i] = True, float(again.confidence[k])
            if mesh is not None:  # x, y in pixels; z on the scale of x, so it scales back the same
                mesh[i] = (again.mesh[k].numpy() - np.array([*offset, 0.0])) / scale
    return Landmarks.from_numpy(points, found, confidence, mesh)
