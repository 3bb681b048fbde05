"""Occluders placed on the face: a dark bar over the eyes, a mask over the mouth, a grey panel over
part of the face, a hand-like shape that passes across the face, and a microphone held at the chin.

Placement follows the face in every frame: eyes and mouth from the 68 landmarks (else the detector's
keypoints; see `synthetic.prepare`), sizes in units of the eye distance (so they scale with the face),
the panel and the hand from the face box.
Clips where no face is found use `facebox.FALLBACK_BOX` and its fixed keypoint fractions.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from qa_harness.suites.facebox import LEFT_EYE, MOUTH, RIGHT_EYE
from qa_harness.suites.perturb.base import PerturbContext

SUNGLASSES = (18, 18, 22)
MASK = (160, 200, 220)
PANEL = (128, 128, 128)
MIC_FOAM, MIC_HANDLE = (40, 40, 44), (70, 70, 76)
SKIN, SKIN_EDGE = (222, 170, 140), (170, 120, 95)
#: Frames per back-and-forth pass of the hand (2 s at 25 fps).
HAND_PERIOD = 50


def _bar(frame: np.ndarray, centre: np.ndarray, angle: float, length: float, height: float, colour) -> None:
    """Fill a rectangle of `length` x `height` px centred at `centre`, its long side at `angle` rad."""
    c, s = math.cos(angle), math.sin(angle)
    along, across = np.array([c, s]) * length / 2, np.array([-s, c]) * height / 2
    corners = np.array(
        [centre - along - across, centre + along - across, centre + along + across, centre - along + across]
    )
    cv2.fillConvexPoly(frame, np.rint(corners).astype(np.int32), colour, lineType=cv2.LINE_AA)


def _on_keypoints(frames, ctx, *, anchor, length, height, colour) -> np.ndarray:
    kp = ctx.faces.keypoints
    out = frames.copy()
    for i, frame in enumerate(out):
        eye_line = kp[i, LEFT_EYE] - kp[i, RIGHT_EYE]
        angle = math.atan2(eye_line[1], eye_line[0])
        d = float(np.linalg.norm(eye_line))
        _bar(frame, anchor(kp[i]), angle, length * d, height * d, colour)
    return out


def eyes(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Dark bar over both eyes along the eye line: (1.3 + 0.9 s) x (0.25 + 0.45 s) eye distances."""
    return _on_keypoints(
        frames,
        ctx,
        anchor=lambda k: (k[RIGHT_EYE] + k[LEFT_EYE]) / 2,
        length=1.3 + 0.9 * strength,
        height=0.25 + 0.45 * strength,
        colour=SUNGLASSES,
    )


def mouth(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Mask over the mouth along the eye line: (0.9 + 0.8 s) x (0.35 + 0.5 s) eye distances."""
    return _on_keypoints(
        frames,
        ctx,
        anchor=lambda k: k[MOUTH],
        length=0.9 + 0.8 * strength,
        height=0.35 + 0.5 * strength,
        colour=MASK,
    )


def half(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Grey panel over the image-left 50 s % of the face box (strength 1: half the face), reaching
    20 % of the box height above and 10 % below it."""
    out = frames.copy()
    for i, frame in enumerate(out):
        x0, y0, x1, y1 = ctx.faces.boxes[i]
        w, h = x1 - x0, y1 - y0
        top_left = (int(round(x0 - 0.1 * w)), int(round(y0 - 0.2 * h)))
        bottom_right = (int(round(x0 + 0.5 * strength * w)), int(round(y1 + 0.1 * h)))
        cv2.rectangle(frame, top_left, bottom_right, PANEL, thickness=-1)
    return out


def _draw_hand(frame: np.ndarray, centre: np.ndarray, palm: float) -> None:
    """Palm ellipse with four fingers pointing up, sized by the palm width `palm` px."""
    finger = max(int(round(palm * 0.2)), 2)
    for k in range(4):
        x = centre[0] + (k - 1.5) * palm * 0.24
        base = (int(round(x)), int(round(centre[1] - palm * 0.3)))
        tip = (
            int(round(x + (k - 1.5) * palm * 0.06)),
            int(round(centre[1] - palm * (0.95 - 0.1 * abs(k - 1.5)))),
        )
        cv2.line(frame, base, tip, SKIN_EDGE, finger + 2, lineType=cv2.LINE_AA)
        cv2.line(frame, base, tip, SKIN, finger, lineType=cv2.LINE_AA)
    axes = (int(round(palm * 0.5)), int(round(palm * 0.6)))
    point = (int(round(centre[0])), int(round(centre[1])))
    cv2.ellipse(frame, point, axes, 0, 0, 360, SKIN, thickness=-1, lineType=cv2.LINE_AA)
    cv2.ellipse(frame, point, axes, 0, 0, 360, SKIN_EDGE, thickness=1, lineType=cv2.LINE_AA)


def hand(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """A hand-like shape, palm (0.25 + 0.35 s) face widths wide, swinging left and right across the
    lower face every `HAND_PERIOD` frames; at frame 0 it is beside the face (the reconstruction
    source stays unoccluded)."""
    out = frames.copy()
    for i, frame in enumerate(out):
        x0, y0, x1, y1 = ctx.faces.boxes[i]
        w, h = x1 - x0, y1 - y0
        palm = (0.25 + 0.35 * strength) * w
        reach = w / 2 + palm * 0.6
        centre = np.array([(x0 + x1) / 2 + reach * math.cos(2 * math.pi * i / HAND_PERIOD), y0 + 0.75 * h])
        _draw_hand(frame, centre, palm)
    return out


def mic(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """A hand-held microphone in front of the chin: a dark foam ball of radius (0.3 + 0.3 s) eye
    distances whose top reaches the mouth centre (strength 1: over the lower lip), on a handle down to
    the bottom of the frame; it follows the mouth in every frame, so the source frame is covered too."""
    out = frames.copy()
    kp = ctx.faces.keypoints
    for i, frame in enumerate(out):
        d = float(np.linalg.norm(kp[i, LEFT_EYE] - kp[i, RIGHT_EYE]))
        radius = (0.3 + 0.3 * strength) * d
        centre = kp[i, MOUTH] + np.array([0.0, radius * (1.4 - 0.6 * strength)])
        handle = max(int(round(radius * 0.7)), 2)
        x, y = int(round(centre[0])), int(round(centre[1]))
        cv2.line(frame, (x, y), (x, frame.shape[0] + handle), MIC_HANDLE, handle, lineType=cv2.LINE_AA)
        cv2.circle(frame, (x, y), int(round(radius)), MIC_FOAM, thickness=-1, lineType=cv2.LINE_AA)
    return out
