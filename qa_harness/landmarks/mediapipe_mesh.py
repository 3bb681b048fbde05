"""MediaPipe Face Mesh (legacy `solutions.face_mesh`, 478 points) mapped to the 68-point iBUG layout.

The default backend because it works offline here: mediapipe 0.10.21 ships the face-mesh models in its
wheel (1.x does not). Runs on the CPU (the Python solution API has no GPU path); frames are processed one
by one in static-image mode, so each frame's points depend on that frame alone - the ground-truth cache
and the output analysis see the same function, whatever the batch boundaries.

Mapping (`IBUG68_FROM_MESH`): iBUG point i is the mean of the listed mesh vertices. The correspondences
are those of Peizhi Yan, "Mediapipe_2_Dlib_Landmarks" (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks,
`mediapipe2dlib/mp2dlib.py`, commit db9e81e), checked here against dlib's 68-point predictor on the
repo clips (tests/test_landmarks.py: mean distance under 8 % of the inter-ocular distance).
Face Mesh exposes no per-face score, so confidence is 1.0 where a face passed min_detection_confidence.
With several faces in a frame the largest (by the extent of its points) is the one returned: the
subject of a talking-head clip or portrait, not a face in the background (Face Mesh's own first face
was a background face on 1 of the 29 AFLW2000 samples). The 478 3-D points are kept as
`Landmarks.mesh` for the head-pose tag.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.landmarks.base import LandmarkBackend, Landmarks, empty_arrays, to_uint8_images
from qa_harness.native import native_stderr_to_debug_log
from qa_harness.weights import require_package

# iBUG index -> Face Mesh vertices (averaged when two).
# fmt: off
IBUG68_FROM_MESH: tuple[tuple[int, ...], ...] = (
    # jaw 0-16, from the subject's right ear over the chin to the left ear
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # right brow 17-21, left brow 22-26
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    # nose bridge 27-30, nostrils 31-35
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),
    # right eye 36-41: outer corner, two upper lid, inner corner, two lower lid
    (33,), (160,), (158,), (133,), (153,), (144,),
    # left eye 42-47: inner corner, two upper lid, outer corner, two lower lid
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips 48-59: right corner, upper lip to left corner, lower lip back
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lips 60-67: right corner, upper inner lip, left corner, lower inner lip
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)
# fmt: on
# (68, 2) vertex pairs; a single vertex is averaged with itself
_PAIRS = np.array([(v[0], v[-1]) for v in IBUG68_FROM_MESH])
MESH_POINTS = 478
#: Faces Face Mesh looks for per frame; the largest is kept.
MAX_FACES = 4
log = logging.getLogger(__name__)


def mesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """(478, 2) or (N, 478, 2) Face Mesh points -> (68, 2) or (N, 68, 2) iBUG points."""
    return mesh[..., _PAIRS, :].mean(axis=-2)


class MediaPipeMesh(LandmarkBackend):
    name = "mediapipe"

    def __init__(self, *, min_detection_confidence: float = 0.5) -> None:
        mp = require_package("mediapipe")
        self.version = f"{mp.__version__}-facemesh478-static-{min_detection_confidence}-largest-of-{MAX_FACES}"
        with native_stderr_to_debug_log():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=MAX_FACES,
                refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
            )
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))  # waits for the graph's threads to start
        self._found_a_face = False  # the graph's first face still makes it print a warning

    def detect(self, frames: Tensor) -> Landmarks:
        images = to_uint8_images(frames)
        n, h, w = images.shape[:3]
        points, found, confidence = empty_arrays(n)
        meshes = np.full((n, MESH_POINTS, 3), np.nan, dtype=np.float32)
        for i, image in enumerate(images):
            quiet = native_stderr_to_debug_log() if not self._found_a_face else contextlib.nullcontext()
            with quiet:
                result = self._mesh.process(image)
            if not result.multi_face_landmarks:
                continue
            self._found_a_face = True
            faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark]) for f in result.multi_face_landmarks]
            meshes[i] = max(faces, key=lambda m: np.ptp(m[:, 0]) * np.ptp(m[:, 1]))
            points[i] = mesh_to_ibug68(meshes[i, :, :2])
            found[i], confidence[i] = True, 1.0
        return Landmarks.from_numpy(points, found, confidence, meshes)


def build(*, device: torch.device, weights: Path | None = None) -> MediaPipeMesh:
    """CPU only whatever `device` says; ships its models, so `weights` is not used."""
    return MediaPipeMesh()
