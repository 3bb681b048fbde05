"""The landmark interface: frames in, 68 iBUG points per frame out, never an exception for a faceless frame.

Every backend returns the same 68-point layout (iBUG 300-W, as dlib and FAN emit it; index 36-41 is the
subject's right eye, i.e. the eye on the image's left), in pixels of the frames it was given, so metrics
never care which detector ran. A frame without a face is `found=False` with NaN points: one bad frame must
not lose a clip, and the missing-face rate is itself a metric (MKR).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

NUM_POINTS = 68
JAW = tuple(range(0, 17))
RIGHT_EYE = tuple(range(36, 42))  # subject's right eye: outer corner 36, inner corner 39
LEFT_EYE = tuple(range(42, 48))  # subject's left eye: inner corner 42, outer corner 45
EYES = RIGHT_EYE + LEFT_EYE
OUTER_LIPS = tuple(range(48, 60))  # corners 48 and 54
INNER_LIPS = tuple(range(60, 68))  # corners 60 and 64
LIPS = OUTER_LIPS + INNER_LIPS


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Landmarks of N frames: points (N, 68, 2) float32 pixels (x, y), NaN where no face was found;
    found (N,) bool; confidence (N,) float32 in [0, 1] (0 where no face). `mesh`, from backends that
    have one (MediaPipe Face Mesh): (N, 478, 3) float32, x and y in pixels, z depth on the scale of x
    (larger is farther from the camera), NaN where no face; the head-pose tag fits it."""

    points: Tensor
    found: Tensor
    confidence: Tensor
    mesh: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.found.shape[0]
        if self.points.shape != (n, NUM_POINTS, 2) or self.confidence.shape != (n,):
            raise ValueError(
                f"Landmarks: expected points (N, 68, 2), found (N,), confidence (N,); got "
                f"{tuple(self.points.shape)}, {tuple(self.found.shape)}, {tuple(self.confidence.shape)}"
            )
        if self.mesh is not None and (self.mesh.ndim != 3 or self.mesh.shape[0] != n or self.mesh.shape[2] != 3):
            raise ValueError(f"Landmarks: expected mesh (N, P, 3), got {tuple(self.mesh.shape)}")

    def __len__(self) -> int:
        return int(self.found.shape[0])

    @staticmethod
    def from_numpy(
        points: np.ndarray, found: np.ndarray, confidence: np.ndarray, mesh: np.ndarray | None = None
    ) -> Landmarks:
        return Landmarks(
            points=torch.from_numpy(np.asarray(points, dtype=np.float32)),
            found=torch.from_numpy(np.asarray(found, dtype=bool)),
            confidence=torch.from_numpy(np.asarray(confidence, dtype=np.float32)),
            mesh=None if mesh is None else torch.from_numpy(np.asarray(mesh, dtype=np.float32)),
        )

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Plain arrays for the ground-truth cache (`np.savez`); the mesh is not cached (metrics use
        the 68 points)."""
        return {
            "points": self.points.numpy(),
            "found": self.found.numpy(),
            "confidence": self.confidence.numpy(),
        }

    def to(self, device: torch.device) -> Landmarks:
        mesh = None if self.mesh is None else self.mesh.to(device)
        return Landmarks(self.points.to(device), self.found.to(device), self.confidence.to(device), mesh)


class LandmarkBackend(ABC):
    """A face landmark detector. `name` and `version` key the ground-truth cache."""

    name: str
    #: Changes whenever the points a backend returns could change (package, model file, settings).
    version: str

    @abstractmethod
    def detect(self, frames: Tensor) -> Landmarks:
        """(N, 3, H, W) float RGB in [0, 1] -> Landmarks in pixels of those H x W frames (on the CPU)."""


def to_uint8_images(frames: Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8 RGB, C-contiguous (what the detectors take)."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"landmarks: expected (N, 3, H, W) frames, got {tuple(frames.shape)}")
    images = (frames.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).cpu().numpy())


def empty_arrays(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points, found and confidence arrays for n frames, all 'no face' until a backend fills them."""
    return (
        np.full((n, NUM_POINTS, 2), np.nan, dtype=np.float32),
        np.zeros(n, dtype=bool),
        np.zeros(n, dtype=np.float32),
    )
