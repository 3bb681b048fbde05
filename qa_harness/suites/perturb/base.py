"""What a perturbation is: a pure function of a clip's frames, a strength and a fixed context.

`perturb(frames, strength, ctx) -> frames`, uint8 RGB (N, H, W, 3) in and out, the same transform for
every frame unless the condition itself moves (a passing hand). `strength` in (0, 1] is the severity
level over the number of levels; each function documents what strength 1 means. Randomness comes only
from `ctx.rng()`, seeded per clip, perturbation and level, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa_harness.suites.facebox import FaceBoxes


@dataclass(frozen=True, slots=True)
class PerturbContext:
    """Face boxes of the clip's frames (every frame filled, in output pixels) and the seed."""

    faces: FaceBoxes
    seed: tuple[int, ...]

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(list(self.seed))

    @property
    def face_centre(self) -> np.ndarray:
        """(x, y) centre of the face over the clip: the fixed point of geometric transforms."""
        boxes = self.faces.boxes
        return np.array([(boxes[:, 0] + boxes[:, 2]).mean() / 2, (boxes[:, 1] + boxes[:, 3]).mean() / 2])

    @property
    def eye_distance(self) -> np.ndarray:
        """(N,) distance between the eye keypoints, px: the unit occluders are sized in."""
        kp = self.faces.keypoints
        return np.linalg.norm(kp[:, 0] - kp[:, 1], axis=1)


Perturbation = Callable[[np.ndarray, float, PerturbContext], np.ndarray]


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round float pixel values to uint8, clipping to [0, 255]."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
