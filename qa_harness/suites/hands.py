"""Hands in frames: convex outlines from MediaPipe Hands, and hand points from MediaPipe Pose (the
models of both ship in the 0.10.x wheel).

Used to tell when a hand covers the face: a hand is the occluder a talking-head clip most often has.
Hands finds a hand from its palm, and misses hands whose palms are hidden, as when both hands cover
the mouth and nose (labelled photo 25 of HandOverFace: no hand found at any confidence, on the frame
or on a face crop). Pose places the wrists and knuckles from the whole upper body, so it still finds
those hands, with high visibility (0.97-0.99 there), though only as eight points, not an outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from qa_harness.native import native_stderr_to_debug_log
from qa_harness.weights import require_package

#: Outlines are the hull of the 21 hand keypoints grown by this factor about their centre: the
#: keypoints run along the bones, and the fingers' flesh reaches beyond them.
GROW = 1.2


class HandFinder:
    """Up to two hands per frame; each frame is processed on its own (static-image mode)."""

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        mp = require_package("mediapipe")
        with native_stderr_to_debug_log():
            self._hands = mp.solutions.hands.Hands(
                static_image_mode=True, max_num_hands=2, min_detection_confidence=min_confidence
            )

    def outlines(self, frame: np.ndarray, *, min_palm: float = 0.0) -> list[np.ndarray]:
        """uint8 (H, W, 3) RGB -> one (K, 2) float32 convex polygon in pixels per hand found whose palm
        (wrist to middle-finger knuckle) is at least `min_palm` pixels long."""
        height, width = frame.shape[:2]
        with native_stderr_to_debug_log():  # the graph's first runs write start-up lines to fd 2
            result = self._hands.process(np.ascontiguousarray(frame))
        polygons = []
        for hand in result.multi_hand_landmarks or ():
            points = np.array([(p.x * width, p.y * height) for p in hand.landmark], dtype=np.float32)
            if np.linalg.norm(points[9] - points[0]) < min_palm:
                continue
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


#: MediaPipe Pose landmarks of the hands: wrists, pinky, index and thumb knuckles, both sides.
POSE_HANDS = tuple(range(15, 23))
#: The same, one hand per row (wrist, pinky, index, thumb): the subject's left, then right.
POSE_HAND_ROWS = ((15, 17, 19, 21), (16, 18, 20, 22))
#: Pose points below this visibility are not used: unseen hands get 0.0-0.3 on the labelled photos,
#: the hands over the mouth 0.97-0.99, and a few hands guessed on face-only crops (Yale B) 0.5-0.8.
MIN_VISIBILITY = 0.8


@dataclass(frozen=True, slots=True)
class PoseHands:
    """One frame's Pose hand points: `points` (K, 2) px, every visible hand point (K may be 0);
    `whole` (M, 4, 2) px, the hands whose four points are all visible (M is 0, 1 or 2)."""

    points: np.ndarray
    whole: np.ndarray

    @classmethod
    def none(cls) -> PoseHands:
        return cls(np.zeros((0, 2)), np.zeros((0, 4, 2)))


class BodyHands:
    """Hand points of one person per frame from MediaPipe Pose (static-image mode)."""

    def __init__(self) -> None:
        mp = require_package("mediapipe")
        with native_stderr_to_debug_log():
            self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)

    def hands(self, frame: np.ndarray) -> PoseHands:
        """uint8 (H, W, 3) RGB -> the frame's visible hand points and whole hands."""
        height, width = frame.shape[:2]
        with native_stderr_to_debug_log():
            result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return PoseHands.none()
        marks = result.pose_landmarks.landmark
        xy = {i: (marks[i].x * width, marks[i].y * height) for i in POSE_HANDS}
        seen = {i for i in POSE_HANDS if marks[i].visibility >= MIN_VISIBILITY}
        points = np.array([xy[i] for i in POSE_HANDS if i in seen]).reshape(-1, 2)
        whole = np.array([[xy[i] for i in row] for row in POSE_HAND_ROWS if seen.issuperset(row)]).reshape(-1, 4, 2)
        return PoseHands(points, whole)
