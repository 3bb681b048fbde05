"""Head pose (yaw, pitch, roll) from face landmarks: MediaPipe's face-geometry fit, or PnP on 68 points.

Both fit MediaPipe's canonical 3-D face (`mediapipe_geometry/canonical_face.csv`, Apache-2.0: the
468 vertices of `canonical_face_model.obj` and the landmark weights of MediaPipe's face-geometry
pipeline), so no face shape or neutral pitch was invented or tuned here:
- `mesh_rotation` (landmark backends with a 3-D mesh: MediaPipe Face Mesh): weighted orthogonal
  Procrustes of the canonical face onto the 468 mesh points, with MediaPipe's weights, under weak
  perspective (x, y in pixels and Face Mesh's depth z on the same scale; AFLW2000's labels are
  weak-perspective fits too). This is MediaPipe's face-geometry method without its assumed
  63-degree camera.
- `fit_rotation` (backends with 68 points only: dlib, FAN): PnP of 68 iBUG points of the canonical
  face (`CANONICAL_68`, mesh vertices mapped as the Face Mesh backend maps them), on the jaw, brows,
  nose, eyes and mouth corners (`FIT_POINTS`, not the lips, which move with speech); camera focal
  length = image width, centre = image centre.
On the 29 valid AFLW2000-3D samples (benchmarks/RESULTS.md, `python -m benchmarks.tags_bench
--section pose`) the mesh fit's mean abs error is 2.5 / 3.6 / 1.0 degrees (yaw / pitch / roll) at
the images' 450 px, bias under 1 degree, and 3.5 / 3.7 / 1.3 (yaw bias +2.0) resized to a suite's
256 px; PnP on 68 points 2.2 / 3.6 / 1.1 with a pitch bias of +2.8. Face Mesh finds no face on
profiles beyond about 60-70 degrees of yaw (2-3 of the 29; NaN) and reads the ones it finds short.

Angles, degrees, of the head relative to the camera (`rotation` = head -> camera):
- yaw: about the vertical axis; positive when the face turns towards the image right;
- pitch: about the horizontal axis; positive when the face tilts up (negative: looking down);
- roll: in the image plane; positive when the head tilts counter-clockwise as seen.
Head axes are camera axes for a frontal face: x towards the image right, y down, z away.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from qa_harness.landmarks.mediapipe_mesh import mesh_to_ibug68

GEOMETRY = Path(__file__).resolve().parent / "mediapipe_geometry" / "canonical_face.csv"


def _load_canonical() -> tuple[np.ndarray, np.ndarray]:
    """(468, 3) canonical face in mm, head axes (x right, y down, z away), nose tip (vertex 4) at 0;
    (468,) Procrustes weights."""
    rows = [line for line in GEOMETRY.read_text().splitlines() if not line.startswith("#")][1:]  # header
    table = np.array([[float(v) for v in line.split(",")] for line in rows])
    vertices = table[:, 1:4] * np.array([10.0, -10.0, -10.0])  # cm, y up, z to viewer -> mm, head axes
    return vertices - vertices[4], table[:, 4]


#: MediaPipe's canonical face, (468, 3) mm in head axes (see `_load_canonical`), and its weights.
CANONICAL_MESH, MESH_WEIGHTS = _load_canonical()
#: The canonical face's 68 iBUG points, (68, 3) mm in head axes.
CANONICAL_68 = mesh_to_ibug68(CANONICAL_MESH)
#: Points the PnP fit uses: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth corners 48 and 54.
FIT_POINTS = np.array([*range(0, 48), 48, 54])


def weighted_procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rotation R of the similarity s R x + t taking (P, 3) `source` onto `target` with the least
    weighted squared error (Umeyama 1991, weighted), a proper rotation (det +1)."""
    w = weights / weights.sum()
    a = source - w @ source
    b = target - w @ target
    u, _, vt = np.linalg.svd((w[:, None] * b).T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    return u @ d @ vt


def mesh_rotation(mesh: np.ndarray) -> np.ndarray | None:
    """(478 or 468, 3) Face Mesh points (pixels; z on x's scale, larger = farther) -> (3, 3)
    head-to-camera rotation, or None if the points are NaN."""
    points = np.asarray(mesh, dtype=np.float64)[: len(CANONICAL_MESH)]
    if np.isnan(points).any():
        return None
    used = MESH_WEIGHTS > 0
    return weighted_procrustes(CANONICAL_MESH[used], points[used], MESH_WEIGHTS[used])


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
