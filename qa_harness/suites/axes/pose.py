"""Head pose per frame (yaw, pitch, roll by PnP on 68 landmarks) and the pose gap to the source.

Measurements, degrees (signs in `headpose`): `yaw`, `pitch`, `roll`; their magnitudes `abs_yaw`,
`abs_pitch`, `abs_roll`, which the bins use (a left and a right turn are equally hard); and
`pose_gap`, the rotation angle between each frame's head pose and the clip's first frame with a face.
Under the reconstruction protocol that first frame is the source, so the gap is how far the model
must move the source head: the quantity that makes reconstruction hard. Frames without a face are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.axes.headpose import euler_angles, fit_rotation, rotation_from_angles, rotation_gap


class PoseAxis(ConditionAxis):
    """Head yaw, pitch and roll, binned by magnitude, and the pose gap to the clip's first frame."""

    name = "pose"
    measures = ("yaw", "pitch", "roll", "abs_yaw", "abs_pitch", "abs_roll", "pose_gap")
    needs_landmarks = True

    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        height, width = obs.frames.shape[1:3]
        points = obs.landmarks.points.numpy()
        angles = np.full((len(points), 3), np.nan)
        for i, found in enumerate(obs.landmarks.found.numpy()):
            rotation = fit_rotation(points[i], width, height) if found else None
            if rotation is not None:
                angles[i] = euler_angles(rotation)
        yaw, pitch, roll = angles.T
        out = {"yaw": yaw, "pitch": pitch, "roll": roll}
        out.update({f"abs_{k}": np.abs(v) for k, v in out.items()})
        out["pose_gap"] = np.full(len(points), np.nan)  # needs the whole clip: see `finish`
        return out

    def finish(self, measures: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
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
