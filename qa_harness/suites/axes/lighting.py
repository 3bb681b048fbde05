"""Lighting of the face: luminance, contrast, side light, colour cast and sensor noise per frame.

Measured on Rec.601 luma Y (0-255) of 8-bit RGB:
- `luma`: median Y inside the face box (the exposure of the face, which is what a model must render;
  a bright background around a dark face is still a dark face; the median, so that sunglasses or a
  hand over part of the face do not read as a change of light);
- `contrast`: standard deviation over mean of Y inside the face box (RMS contrast relative to the
  exposure, so that darkening alone does not change it: flat haze vs hard light);
- `side`: (right-half mean - left-half mean) / (sum of both) inside the face box, in image
  coordinates; negative = the image-left side of the face is brighter. Side light is what
  relighting-blind models get wrong when the head turns;
- `cast`: distance of the whole frame's mean chroma (Cb, Cr) from grey, in percent of its mean luma:
  the grey-world estimate of a colour cast (the whole frame, because skin alone is never grey),
  relative so that a white-balance error reads the same in a dark and a bright frame;
- `noise`: standard deviation of sensor noise on Y over the whole frame, by Immerkaer's estimator
  ("Fast noise variance estimation", CVIU 1996): the mean |Laplacian-difference| response times
  sqrt(pi/2)/6. Low light brings noise; compression removes it.
Frames without a detected face use the nearest frame's face box (`FaceBoxes.filled`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation

REC601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec.601 luma of a uint8 (H, W, 3) RGB frame, float32 in [0, 255]."""
    return frame.astype(np.float32) @ REC601


def noise_sigma(y: np.ndarray) -> float:
    """Immerkaer's noise standard deviation of a 2-D float image (0-255 scale)."""
    # The 3x3 mask [[1,-2,1],[-2,4,-2],[1,-2,1]] is the difference of two Laplacians: it cancels
    # smooth image structure up to second order and keeps white noise.
    c = y[1:-1, 1:-1]
    response = (
        y[:-2, :-2]
        + y[:-2, 2:]
        + y[2:, :-2]
        + y[2:, 2:]
        - 2 * (y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:])
        + 4 * c
    )
    return float(math.sqrt(math.pi / 2) * np.abs(response).mean(dtype=np.float64) / 6)


def chroma_cast(frame: np.ndarray) -> float:
    """|mean (Cb, Cr)| / mean Y of a uint8 RGB frame, in percent (0 = grey on average)."""
    r, g, b = cv2.mean(np.ascontiguousarray(frame))[:3]
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return float(100 * math.hypot(cb, cr) / max(0.299 * r + 0.587 * g + 0.114 * b, 1.0))


def _face_region(y: np.ndarray, box: np.ndarray) -> np.ndarray:
    height, width = y.shape
    x0, y0 = int(np.clip(np.floor(box[0]), 0, width - 2)), int(np.clip(np.floor(box[1]), 0, height - 2))
    x1 = int(np.clip(np.ceil(box[2]), x0 + 2, width))
    y1 = int(np.clip(np.ceil(box[3]), y0 + 2, height))
    return y[y0:y1, x0:x1]


class LightingAxis(ConditionAxis):
    """Face exposure, contrast, side light, colour cast and noise; see the module docstring."""

    name = "lighting"
    measures = ("luma", "contrast", "side", "cast", "noise")

    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        boxes = obs.faces.filled().boxes
        out = {m: np.empty(len(obs.frames)) for m in self.measures}
        for i, frame in enumerate(obs.frames):
            y = luma(frame)
            face = _face_region(y, boxes[i])
            half = face.shape[1] // 2
            left, right = face[:, :half].mean(), face[:, -half:].mean()
            out["luma"][i] = np.median(face)
            out["contrast"][i] = face.std() / max(face.mean(), 1.0)
            out["side"][i] = (right - left) / max(right + left, 1e-6)
            out["cast"][i] = chroma_cast(frame)
            out["noise"][i] = noise_sigma(y)
        return out
