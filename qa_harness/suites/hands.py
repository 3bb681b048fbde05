"""Hands in frames, as convex outlines, from MediaPipe Hands (its models ship in the 0.10.x wheel).

Used to tell when a hand covers the face: a hand is the occluder a talking-head clip most often has,
and the one offline detector for occluders that works here.
"""

from __future__ import annotations

import cv2
import numpy as np

from qa_harness.weights import require_package

#: Outlines are the hull of the 21 hand keypoints grown by this factor about their centre: the
#: keypoints run along the bones, and the fingers' flesh reaches beyond them.
GROW = 1.2


class HandFinder:
    """Up to two hands per frame; each frame is processed on its own (static-image mode)."""

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        mp = require_package("mediapipe")
        self._hands = mp.solutions.hands.Hands(
            static_image_mode=True, max_num_hands=2, min_detection_confidence=min_confidence
        )

    def outlines(self, frame: np.ndarray) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB -> one (K, 2) float32 convex polygon in pixels per hand found."""
        height, width = frame.shape[:2]
        result = self._hands.process(np.ascontiguousarray(frame))
        polygons = []
        for hand in result.multi_hand_landmarks or ():
            points = np.array([(p.x * width, p.y * height) for p in hand.landmark], dtype=np.float32)
            hull = cv2.convexHull(points)[:, 0]
            centre = hull.mean(axis=0)
            polygons.append((centre + GROW * (hull - centre)).astype(np.float32))
        return polygons


def inside_any(points: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """(P, 2) points -> (P,) bool: inside (or on) any of the polygons."""
    inside = np.zeros(len(points), bool)
    for polygon in polygons:
        contour = polygon.reshape(-1, 1, 2)
        inside |= np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points])
    return inside
