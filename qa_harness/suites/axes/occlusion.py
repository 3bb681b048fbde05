"""Occlusion of the face: the share of its 68 landmarks that cannot be seen, and why.

Landmark detectors place every point even where the face is hidden, so hidden points are found by
other evidence, per frame:
- `missing`: 1 when the landmark detector found no face (then every point counts as hidden);
- `self_occluded`: share of points that face away from the camera at the fitted head pose (PnP, as
  the pose axis): each point of the generic face (`headpose.CANONICAL_68`) gets the outward normal of
  an ellipsoid head around it (`HEAD_CENTRE`), and is hidden when that normal, turned by the head
  pose, points away from the camera (the far cheek and jaw of a turned head);
- `hand`: share of points inside the outline of a detected hand (MediaPipe Hands, offline);
- `flat`: share of points of the brows, eyes and outer lips (`TEXTURED`) whose neighbourhood has no
  texture (luma standard deviation under `FLAT_CONTRAST` of its mean, in a square of 0.25
  inter-ocular distances): those parts always show edges, so a flat patch there is something over the
  face (sunglasses, a mask, a flat panel). Smooth skin (cheeks, nose) is not tested;
- `hidden`: share of points hidden by any of the above (1 when missing): what the bins use.
No offline detector for hair or glasses works here, so those count only when they flatten a region.
"""

from __future__ import annotations

import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.axes.headpose import CANONICAL_68, fit_rotation
from qa_harness.suites.axes.lighting import luma
from qa_harness.suites.hands import HandFinder, inside_any

#: Centre (mm, generic-face axes) of the ellipsoid whose normals stand in for the face's normals:
#: just behind the canonical face's jaw ends (z 96 mm behind the nose tip), so a frontal face hides none.
HEAD_CENTRE = np.array([0.0, -10.0, 105.0])
TEXTURED = np.array([*range(17, 27), *range(36, 48), *range(48, 60)])
FLAT_CONTRAST = 0.05


def facing_away(rotation: np.ndarray) -> np.ndarray:
    """(68,) bool: generic-face points whose ellipsoid normal points away from the camera."""
    normals = CANONICAL_68 - HEAD_CENTRE
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Camera axes: z points away from the camera, so a normal with z > 0 after rotation faces away.
    return (normals @ rotation.T)[:, 2] > 0


def flat_points(y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(68,) bool: `TEXTURED` points whose neighbourhood in luma image `y` has no texture."""
    iod = float(np.linalg.norm(points[36] - points[45]))
    half = max(int(round(0.125 * iod)), 2)
    height, width = y.shape
    flat = np.zeros(len(points), bool)
    for i in TEXTURED:
        x, yy = int(round(points[i, 0])), int(round(points[i, 1]))
        patch = y[max(yy - half, 0) : min(yy + half + 1, height), max(x - half, 0) : min(x + half + 1, width)]
        if patch.size >= 4:
            flat[i] = patch.std() < FLAT_CONTRAST * max(patch.mean(), 1.0)
    return flat


class OcclusionAxis(ConditionAxis):
    """Share of hidden face landmarks per frame, by cause; see the module docstring."""

    name = "occlusion"
    measures = ("missing", "self_occluded", "hand", "flat", "hidden")
    needs_landmarks = True

    def __init__(self, bins) -> None:
        super().__init__(bins)
        self._hands: HandFinder | None = None

    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        if self._hands is None:
            self._hands = HandFinder()
        height, width = obs.frames.shape[1:3]
        points_all = obs.landmarks.points.numpy()
        found = obs.landmarks.found.numpy()
        out = {m: np.zeros(len(found)) for m in self.measures}
        for i, frame in enumerate(obs.frames):
            if not found[i]:
                out["missing"][i] = out["hidden"][i] = 1.0
                continue
            points = points_all[i]
            rotation = fit_rotation(points, width, height)
            away = facing_away(rotation) if rotation is not None else np.zeros(68, bool)
            under_hand = inside_any(points, self._hands.outlines(frame))
            flat = flat_points(luma(frame), points)
            out["self_occluded"][i] = away.mean()
            out["hand"][i] = under_hand.mean()
            out["flat"][i] = flat.mean()
            out["hidden"][i] = (away | under_hand | flat).mean()
        return out
