"""The identity interface: (N, 3, H, W) frames -> (N, D) embeddings, NaN rows where no face was found.

Distances between embeddings of a generated frame and of the ground truth (or the source) are the
papers' AED. Like landmark backends, an identity backend never raises on a faceless frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from qa_harness.landmarks.base import Landmarks


@dataclass(frozen=True, slots=True)
class Embeddings:
    """vectors (N, D) float32 (NaN rows where no face), found (N,) bool."""

    vectors: Tensor
    found: Tensor

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.found.shape != (self.vectors.shape[0],):
            raise ValueError(
                f"Embeddings: expected vectors (N, D) and found (N,), got {tuple(self.vectors.shape)} "
                f"and {tuple(self.found.shape)}"
            )

    def __len__(self) -> int:
        return int(self.found.shape[0])

    @staticmethod
    def from_numpy(vectors: np.ndarray, found: np.ndarray) -> Embeddings:
        return Embeddings(
            torch.from_numpy(np.asarray(vectors, dtype=np.float32)),
            torch.from_numpy(np.asarray(found, dtype=bool)),
        )

    def to_numpy(self) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors.numpy(), "found": self.found.numpy()}

    def to(self, device: torch.device) -> Embeddings:
        return Embeddings(self.vectors.to(device), self.found.to(device))


class IdentityBackend(ABC):
    """A face identity network. `name` and `version` key the ground-truth cache."""

    name: str
    version: str
    dim: int
    #: How `embed` uses given `faces` (e.g. the box fitted around the landmarks); keys the cache with them.
    faces_version: str = ""

    @abstractmethod
    def embed(self, frames: Tensor, faces: Landmarks | None = None) -> Embeddings:
        """(N, 3, H, W) float RGB in [0, 1] -> Embeddings (on the CPU).

        `faces`: the frames' landmarks when another backend already found the faces; a backend that crops
        the face uses them instead of its own detector (no face there: no embedding). Whole-frame backends
        ignore them."""
