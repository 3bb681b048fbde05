"""Lighting of the face: luminance, contrast, side light, colour cast and sensor noise per frame.

Measured on Rec.601 luma Y (0-255) of 8-bit RGB:
- `luma`: median Y inside the face box (the exposure of the face, which is what a model must render;
  a bright background around a dark face is still a dark face; the median, so that sunglasses or a
  hand over part of the face do not read as a change of light). Skin reflects differently per
  person, so a well-lit dark-skinned face reads lower than a well-lit pale one: the `dim` edge
  (95) sits above a dim stage (face luma 89) and below the repository's normally lit clips (99-135);
- `contrast`: standard deviation over mean of Y inside the face box (RMS contrast relative to the
  exposure, so that darkening alone does not change it: flat haze vs hard light);
- `side`: (right-half mean - left-half mean) / (sum of both) inside the face box, in image
  coordinates; negative = the image-left side of the face is brighter. Side light is what
  relighting-blind models get wrong when the head turns;
- `cast`: distance of the face skin's chroma from the chroma of skin under neutral light, in percent
  of its luma: median (Cb, Cr) / median Y over the central part of the face box (`SKIN_BOX`:
  cheeks, nose, upper lip), minus `NEUTRAL_SKIN`. Skin, not the frame: a coloured wall behind an
  evenly lit face is not a cast on the face, and a frame that is all skin is not a strong cast (the
  grey-world estimate this replaced read both as `strong`). `NEUTRAL_SKIN` (Cb -11 %, Cr +17.5 % of
  Y) is the median over 58 labelled faces of many skin tones under everyday light (face_mask
  without masks, AFLW2000, HandOverFace; 90 % of them lie within 14.6 % of it, which sets the
  `neutral` edge at 16, all within 19.9, which sets `strong` from 22). A masked face measures its
  mask; a grey image has no cast to measure (NaN, `unknown`);
- `noise`: standard deviation of sensor noise on Y over the whole frame, by Immerkaer's estimator
  ("Fast noise variance estimation", CVIU 1996): the mean |Laplacian-difference| response times
  sqrt(pi/2)/6. Low light brings noise; compression removes it.
Frames without a detected face use the nearest frame's face box (`FaceBoxes.filled`).
"""

from __future__ import annotations

import math

import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation

REC601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: Chroma of skin under neutral light, (Cb, Cr) in percent of Y (see the module docstring).
NEUTRAL_SKIN = (-11.0, 17.5)
#: The skin part of the detector's face box, as fractions (x0, y0, x1, y1): below the eyes, above
#: the chin, inside the cheeks.
SKIN_BOX = (0.25, 0.35, 0.75, 0.8)
GREY_LEVELS = 2.0


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


def chroma(pixels: np.ndarray) -> tuple[float, float, float]:
    """Median Rec.601 (Y, Cb, Cr) of uint8 (P, 3) RGB pixels."""
    rgb = pixels.astype(np.float32)
    y = rgb @ REC601
    cb = rgb @ np.array([-0.168736, -0.331264, 0.5], np.float32)
    cr = rgb @ np.array([0.5, -0.418688, -0.081312], np.float32)
    return float(np.median(y)), float(np.median(cb)), float(np.median(cr))


def skin_cast(skin: np.ndarray) -> float:
    """Distance of skin pixels' median chroma from `NEUTRAL_SKIN`, percent of their median luma
    (NaN when the pixels are grey: R, G, B within `GREY_LEVELS` on average)."""
    pixels = skin.reshape(-1, 3)
    if np.abs(pixels.astype(np.int16) - pixels[:, 1:2]).max(axis=1).mean() < GREY_LEVELS:
        return math.nan
    y, cb, cr = chroma(pixels)
    y = max(y, 1.0)
    return float(math.hypot(100 * cb / y - NEUTRAL_SKIN[0], 100 * cr / y - NEUTRAL_SKIN[1]))


def _skin_region(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    a, b, c, d = SKIN_BOX
    return _face_region(frame, np.array([x0 + a * w, y0 + b * h, x0 + c * w, y0 + d * h]))


def _face_region(y: np.ndarray, box: np.ndarray) -> np.ndarray:
    height, width = y.shape[:2]
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
            out["cast"][i] = skin_cast(_skin_region(frame, boxes[i]))
            out["noise"][i] = noise_sigma(y)
        return out
