"""`landmark_tps`: a classical, weight-free baseline - the source warped by a thin-plate spline
that carries its 68 face landmarks onto the driving frame's.

Why: it needs no training, so a report shows where the learned models sit between the floor
(`identity`, no motion) and the ceiling (`driving`, the ground truth): a model that does not beat a
landmark warp on a condition has learned nothing there. Absolute mode (default, the reconstruction
protocol): output landmarks = the driving frame's. Relative mode (`relative=true`, for cross pairs):
output landmarks = source landmarks + the driving's landmark motion since its first frame.
16 anchors on the frame border keep the background in place; a frame where either face is not found
is the source unchanged. The spline is `qa_harness.reference_models.blocks.tps.TPS` (TPSMM's, regularised).
Landmarks come from the LANDMARKS registry (`mediapipe` by default: CPU only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from qa_harness.catalog import DEFAULT_LANDMARKS, LANDMARKS
from qa_harness.errors import ConfigError
from qa_harness.landmarks.base import LandmarkBackend
from qa_harness.models.base import Animator
from qa_harness.reference_models.blocks.tps import TPS

ANCHORS_PER_SIDE = 4


def _border_anchors(device: torch.device) -> Tensor:
    """(16, 2) points on the frame border in [-1, 1]: corners and evenly spaced edge points."""
    t = torch.linspace(-1.0, 1.0, ANCHORS_PER_SIDE + 1, device=device)[:-1]
    ones = torch.ones_like(t)
    return torch.cat(
        [torch.stack([t, -ones], 1), torch.stack([ones, t], 1), torch.stack([-t, ones], 1), torch.stack([-ones, -t], 1)]
    )


@dataclass(frozen=True)
class _State:
    source: Tensor
    source_points: Tensor | None  # (68, 2) in [-1, 1], None when the source has no face
    first_points: Tensor | None  # the driving's first frame, relative mode only


class LandmarkTPS(Animator):
    """Warps the source so that its landmarks land where the driving frame's are."""

    resolution = None

    def __init__(self, backend: LandmarkBackend, *, relative: bool) -> None:
        self.backend = backend
        self.relative = relative
        self.needs_driving_first = relative

    def _unit_points(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """(N, 68, 2) landmarks in [-1, 1] (align-corners pixel convention) and (N,) found flags."""
        found = self.backend.detect(frames)
        h, w = frames.shape[-2:]
        scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)])
        points = found.points.float() * scale - 1.0
        ok = found.found & torch.isfinite(points).flatten(1).all(1)
        return points.to(frames.device), ok.to(frames.device)

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> _State:
        points, ok = self._unit_points(source[None])
        first = None
        if self.relative:
            if driving_first is None:
                raise ValueError("landmark_tps: relative mode needs the driving's first frame")
            first_points, first_ok = self._unit_points(driving_first[None])
            first = first_points[0] if bool(first_ok[0]) else None
        source_points = points[0] if bool(ok[0]) and (first is not None or not self.relative) else None
        return _State(source, source_points, first)

    def animate(self, state: _State, driving: Tensor) -> Tensor:
        n, _, h, w = driving.shape
        out = state.source.to(driving.device).expand(n, -1, -1, -1).clone()
        if state.source_points is None:
            return out
        points, ok = self._unit_points(driving)
        if not bool(ok.any()):
            return out
        moved = points[ok]
        if state.first_points is not None:
            moved = state.source_points + (moved - state.first_points)
        anchors = _border_anchors(driving.device).expand(len(moved), -1, -1)
        output_points = torch.cat([moved, anchors], 1)[:, None]
        source_points = torch.cat([state.source_points.expand_as(moved), anchors], 1)[:, None]
        grid = TPS(output_points, source_points).transform_frame((h, w))[:, 0]
        out[ok] = F.grid_sample(out[ok], grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out


def build(
    *,
    checkpoint: Path | None = None,
    device: torch.device | str = "cpu",
    landmarks: str = DEFAULT_LANDMARKS,
    relative: bool = False,
    **unknown: Any,
) -> LandmarkTPS:
    """The `landmark_tps` model; options `landmarks` (backend name) and `relative`."""
    if checkpoint is not None:
        raise ConfigError(checkpoint, "", "landmark_tps is weight-free and takes no checkpoint")
    if unknown:
        raise ConfigError("landmark_tps", "options", f"unknown option(s) {sorted(unknown)}; known: landmarks, relative")
    backend = LANDMARKS.build(landmarks, device=torch.device(device))
    return LandmarkTPS(backend, relative=bool(relative))
