"""Pose-like changes that are honest in 2-D: in-plane roll, scale and translation of the whole frame.

Out-of-plane yaw and pitch cannot be made from one view without inventing pixels, so they are not
here; roll, scale and shift are exact image transforms. One transform per clip (about the face centre
over the clip), so a reconstruction clip and its frame-0 source stay consistent. Borders the transform
uncovers repeat the edge pixels (no black frame edges for a model to key on).
"""

from __future__ import annotations

import cv2
import numpy as np

from qa_harness.suites.perturb.base import PerturbContext


def _warp(frames: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = frames.shape[1:3]
    return np.stack(
        [
            cv2.warpAffine(f, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for f in frames
        ]
    )


def roll(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """In-plane head roll: rotate by 30 s degrees counter-clockwise (as seen) about the face centre."""
    cx, cy = ctx.face_centre
    return _warp(frames, cv2.getRotationMatrix2D((float(cx), float(cy)), 30.0 * strength, 1.0))


def scale(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Smaller face: zoom out by 1 - 0.5 s about the face centre (strength 1 halves the face)."""
    cx, cy = ctx.face_centre
    return _warp(frames, cv2.getRotationMatrix2D((float(cx), float(cy)), 0.0, 1.0 - 0.5 * strength))


def shift(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Off-centre face: translate right by 0.25 s and down by 0.1 s of the frame size."""
    height, width = frames.shape[1:3]
    matrix = np.array([[1.0, 0.0, 0.25 * strength * width], [0.0, 1.0, 0.1 * strength * height]])
    return _warp(frames, matrix)
