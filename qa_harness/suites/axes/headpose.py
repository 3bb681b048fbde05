"""Head pose (yaw, pitch, roll) from 68 iBUG landmarks by a PnP fit to a generic 3-D face.

The generic face (`CANONICAL_68`) was written for this project from average adult proportions
(outer eye corners 90 mm apart, nose tip 35 mm below the eye line and 25-35 mm in front of the eye
corners, mouth corners 50 mm apart, chin 75 mm below the nose tip; jaw on an ellipse reaching the ears
90 mm behind the nose tip). It is in camera axes for a frontal face: x towards the image right, y
down, z away from the camera, millimetres, nose tip at the origin. One generic shape fits every face
to within a few degrees of yaw, which is all that bins 15 and 35 degrees wide need.

The fit uses the jaw line, brows, nose, eyes and the mouth corners, not the lips (they move with
speech). The jaw line a detector returns is the face's silhouette, which slides over the true jaw as
the head turns, but without it pitch is poorly constrained: on the repo's frontal portraits the fit
without the jaw read 30 degrees of pitch, with it 0-20; yaw moved by under 4 degrees either way.
Camera: focal length = image width (about 53 degrees field of view), centre = image centre.

Measured against what the frames show (tests/test_axes_pose.py): frontal clips read |yaw| under 12
degrees; the 3/4 view of lp_s32 reads 15-25 and the near-profile photo about 45. Landmark
detectors place the hidden half of a turned face as if it were visible, which compresses large yaws,
so a profile reads 45-50 degrees, not 70-80: the bins allow for it.

Angles, degrees, of the head relative to the camera (`rotation` = head -> camera):
- yaw: about the vertical axis; positive when the face turns towards the image right;
- pitch: about the horizontal axis; positive when the face tilts up;
- roll: in the image plane; positive when the head tilts counter-clockwise as seen.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _canonical() -> np.ndarray:
    right_half = {
        # jaw 0-7 on an ellipse from the right ear (image left) to just before the chin
        **{
            t: (
                -70 * math.cos(t / 8 * math.pi / 2),
                -25 + 100 * math.sin(t / 8 * math.pi / 2),
                20 + 70 * math.cos(t / 8 * math.pi / 2),
            )
            for t in range(8)
        },
        # right brow 17-21, outer to inner
        17: (-55, -52, 35),
        18: (-46, -58, 26),
        19: (-35, -60, 20),
        20: (-23, -58, 17),
        21: (-12, -54, 17),
        # right eye 36-41: outer corner, upper lid, upper lid, inner corner, lower lid, lower lid
        36: (-45, -35, 30),
        37: (-37, -39, 24),
        38: (-25, -39, 22),
        39: (-16, -35, 24),
        40: (-25, -32, 22),
        41: (-37, -32, 24),
        31: (-14, 10, 12),
        32: (-7, 12, 8),
        # outer lips: right corner, upper lip, lower lip; inner lips
        48: (-25, 35, 22),
        49: (-16, 30, 14),
        50: (-6, 27, 10),
        58: (-6, 45, 12),
        59: (-16, 42, 15),
        60: (-20, 35, 19),
        61: (-6, 33, 12),
        67: (-6, 37, 12),
    }
    midline = {
        8: (0, 75, 20),
        27: (0, -38, 18),
        28: (0, -26, 12),
        29: (0, -13, 6),
        30: (0, 0, 0),
        33: (0, 13, 6),
        51: (0, 28, 9),
        57: (0, 46, 11),
        62: (0, 33, 11),
        66: (0, 37, 11),
    }
    # iBUG's left-half points mirror right-half ones (index pairs, right -> left)
    mirror = {
        **{t: 16 - t for t in range(8)},
        17: 26,
        18: 25,
        19: 24,
        20: 23,
        21: 22,
        36: 45,
        37: 44,
        38: 43,
        39: 42,
        40: 47,
        41: 46,
        31: 35,
        32: 34,
        48: 54,
        49: 53,
        50: 52,
        58: 56,
        59: 55,
        60: 64,
        61: 63,
        67: 65,
    }
    points = np.full((68, 3), np.nan)
    for i, p in {**right_half, **midline}.items():
        points[i] = p
    for right, left in mirror.items():
        points[left] = points[right] * (-1, 1, 1)
    return points


#: Pitch (degrees) given to the generic face so that faces looking into the camera read pitch 0: on
#: the repo's frontal clips and portraits (d20, lp_d11, vrt_face5, jianzhu, people0, lp_s1) the
#: upright model read a median pitch of -10 degrees. (A face plane leans back from the vertical when
#: a person looks straight ahead.)
NEUTRAL_PITCH = -10.0
#: Points the PnP fit uses: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth corners 48 and 54.
FIT_POINTS = np.array([*range(0, 48), 48, 54])


def _camera(width: int, height: int) -> np.ndarray:
    return np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)


def fit_rotation(points: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """(68, 2) landmark pixels -> (3, 3) head-to-camera rotation, or None if the points are NaN."""
    image = points[FIT_POINTS].astype(np.float64)
    if np.isnan(image).any():
        return None
    model = CANONICAL_68[FIT_POINTS]
    camera = _camera(width, height)
    ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        return None
    ok, rvec, tvec = cv2.solvePnP(
        model, image, camera, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok or tvec[2, 0] <= 0:  # a face behind the camera is a failed fit
        return None
    return cv2.Rodrigues(rvec)[0]


def _axis_rotation(axis: int, degrees: float) -> np.ndarray:
    """Right-handed rotation by `degrees` about camera axis 0 (x), 1 (y) or 2 (z)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r if axis != 1 else r.T  # (z, x) is the right-handed order about y


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head-to-camera rotation of a head rolled, then pitched, then yawed (angles and signs as in the
    module docstring); the exact inverse of `euler_angles`."""
    return _axis_rotation(1, -yaw) @ _axis_rotation(0, -pitch) @ _axis_rotation(2, -roll)


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Head-to-camera rotation -> (yaw, pitch, roll) degrees, signs as in the module docstring.

    Yaw and pitch say where the head faces: f = R (0, 0, -1) (camera axes: x right, y down, z away)
    gives yaw = atan2(f_x, -f_z) and pitch = atan2(-f_y, |(f_x, f_z)|). Roll is what is left, a turn
    about the facing direction, once yaw and pitch are undone.
    """
    f = rotation @ np.array([0.0, 0.0, -1.0])
    yaw = math.degrees(math.atan2(f[0], -f[2]))
    pitch = math.degrees(math.atan2(-f[1], math.hypot(f[0], f[2])))
    rest = (_axis_rotation(1, -yaw) @ _axis_rotation(0, -pitch)).T @ rotation
    roll = math.degrees(math.atan2(-rest[1, 0], rest[0, 0]))
    return yaw, pitch, roll


def rotation_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees of the rotation that takes head pose `a` to head pose `b` (geodesic)."""
    cos = (np.trace(a.T @ b) - 1) / 2
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


#: Generic 3-D face, (68, 3) mm in camera axes of a frontal view; see the module docstring.
CANONICAL_68 = _canonical() @ rotation_from_angles(0.0, NEUTRAL_PITCH, 0.0).T
