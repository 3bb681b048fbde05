"""The interface every model under test implements, and how a model is built by name.

A model is built by a factory `factory(*, checkpoint, device, **options) -> Animator`; the registry in
`catalog.py` maps names to factories, and `--model pkg.module:factory` reaches a user's own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


class Animator(ABC):
    """Renders a source image moving like a driving video.

    Frames are float RGB in [0, 1], shape (3, H, W) for one image and (N, 3, H, W) for a batch, with
    H = W = `resolution`. The runner calls `prepare` once per pair (keypoints of the source, say) and
    `animate` on consecutive batches of driving frames, so a model never sees a whole video at once.
    """

    #: Side of the square frames the model takes and returns; None: any size (weight-free models).
    resolution: int | None = 256
    #: True when the model moves the source relative to the driving's first frame (FOMM `relative`);
    #: the runner then passes that frame to `prepare`.
    needs_driving_first: bool = False

    @abstractmethod
    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> Any:
        """Per-pair state from the source frame (and the driving's first frame when needed)."""

    @abstractmethod
    def animate(self, state: Any, driving: Tensor) -> Tensor:
        """(N, 3, H, W) driving frames -> (N, 3, H, W) generated frames, on the driving's device."""


def checkpoint_required(checkpoint: Path | None, model: str) -> Path:
    """The checkpoint path, or an error saying that this model needs one."""
    from qa_harness.errors import CheckpointError

    if checkpoint is None:
        raise CheckpointError(f"model '{model}' needs --checkpoint PATH")
    return checkpoint


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; anything else as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
