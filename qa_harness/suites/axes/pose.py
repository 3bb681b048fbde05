"""Head pose per frame (yaw, pitch, roll; see `headpose`) and the pose gap to the source.

Measurements, degrees (signs in `headpose`): `yaw`, `pitch`, `roll`; their magnitudes `abs_yaw`,
`abs_pitch`, `abs_roll` (a left and a right turn are equally hard; pitch is binned signed, since
looking down is not looking up); and `pose_gap`, the rotation angle between each frame's head pose
and the clip's first frame with a face. Under the reconstruction protocol that first frame is the
source, so the gap is how far the model must move the source head: the quantity that makes
reconstruction hard. Frames without a face are NaN. The pose comes from the landmark backend's 3-D
mesh when it has one (MediaPipe, the default), else from PnP on its 68 points.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.axes.headpose import (
    euler_angles,
    fit_rotation,
    mesh_rotation,
    rotation_from_angles,
    rotation_gap,
)


class PoseAxis(ConditionAxis):
    """Head yaw, pitch and roll, and the pose gap to the clip's first frame."""

    name = "pose"
    measures = ("yaw", "pitch", "roll", "abs_yaw", "abs_pitch", "abs_roll", "pose_gap")
    needs_landmarks = True

    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        height, width = obs.frames.shape[1:3]
        marks = obs.landmarks
        points = marks.points.numpy()
        mesh = None if marks.mesh is None else marks.mesh.numpy()
        angles = np.full((len(points), 3), np.nan)
        for i, found in enumerate(marks.found.numpy()):
            if not found:
                continue
            rotation = mesh_rotation(mesh[i]) if mesh is not None else fit_rotation(points[i], width, height)
            if rotation is not None:
                angles[i] = euler_angles(rotation)
        yaw, pitch, roll = angles.T
        out = {"yaw": yaw, "pitch": pitch, "roll": roll}
        out.update({f"abs_{k}": np.abs(v) for k, v in out.items()})
        out["pose_gap"] = np.full(len(points), np.nan)  # needs the whole clip: see `finish`
        return out

    def finish(self, measures: Mapping[str, np.ndarray], *, stride: int = 1) -> dict[str, np.ndarray]:
        """Fill `pose_gap` once the whole clip is measured (its reference is the first face)."""
        out = dict(measures)
        angles = np.stack([measures["yaw"], measures["pitch"], measures["roll"]], axis=1)
        valid = np.flatnonzero(~np.isnan(angles).any(axis=1))
        gap = np.full(len(angles), np.nan)
        if valid.size:
            reference = rotation_from_angles(*angles[valid[0]])
            for i in valid:
                gap[i] = rotation_gap(reference, rotation_from_angles(*angles[i]))
        out["pose_gap"] = gap
        return out
