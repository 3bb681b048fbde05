"""Weight-free baselines that bracket every learned model.

`identity` returns the source unchanged (the floor: no motion at all); `driving` returns the driving
frame (the ceiling: on reconstruction it *is* the ground truth, so every metric must be perfect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from qa_harness.models.base import Animator


class IdentityAnimator(Animator):
    """Repeats the source for every driving frame."""

    resolution = None

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> Tensor:
        return source

    def animate(self, state: Tensor, driving: Tensor) -> Tensor:
        return state.to(driving.device).unsqueeze(0).expand_as(driving).clone()


class DrivingAnimator(Animator):
    """Returns the driving frames themselves."""

    resolution = None

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> None:
        return None

    def animate(self, state: Any, driving: Tensor) -> Tensor:
        return driving.clone()


def identity(*, checkpoint: Path | None = None, device: torch.device | None = None, **_: Any) -> Animator:
    return IdentityAnimator()


def driving(*, checkpoint: Path | None = None, device: torch.device | None = None, **_: Any) -> Animator:
    return DrivingAnimator()
