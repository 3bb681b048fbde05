"""Lighting perturbations: darkening, directional shading, colour cast, sensor noise.

Applied to 8-bit sRGB values directly (not linear light): these are the changes a camera's exposure,
white balance and gain make to the stored pixels, and the lighting axis measures those same pixels.
"""

from __future__ import annotations

import numpy as np

from qa_harness.suites.axes.lighting import luma
from qa_harness.suites.perturb.base import PerturbContext, to_uint8


def darken(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Under-exposure on luma, Y' = 255 * gain * (Y / 255) ** gamma with gain 1 - 0.6 s and gamma
    1 + s, each pixel's RGB scaled by Y' / Y so that hue and saturation stay (a gamma curve on R, G
    and B separately would also saturate colours, which is the cast axis, not this one).

    Strength 1 takes mid-grey 128 to 26: a dark room; 1/3 takes it to 81: dim.
    """
    gain, gamma = 1 - 0.6 * strength, 1 + strength
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        y = luma(frame)
        target = 255 * gain * (y / 255) ** gamma
        out[i] = to_uint8(frame * (target / np.maximum(y, 1e-6))[..., None])
    return out


def shade(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Side light: a horizontal ramp across each frame's face box, full brightness at the box's
    image-right edge down to 1 - 0.8 s at its image-left edge, constant outside the box."""
    boxes = ctx.faces.boxes
    width = frames.shape[2]
    x = np.arange(width, dtype=np.float64)
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        t = np.clip((x - boxes[i, 0]) / max(boxes[i, 2] - boxes[i, 0], 1.0), 0, 1)
        gain = 1 - 0.8 * strength * (1 - t)
        out[i] = to_uint8(frame * gain[None, :, None])
    return out


def cast(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Warm white-balance error: red x (1 + 0.3 s), blue x (1 - 0.4 s), green unchanged."""
    gains = np.array([1 + 0.3 * strength, 1.0, 1 - 0.4 * strength])
    return to_uint8(frames * gains)


def noise(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Sensor noise: white Gaussian, sigma 20 s (0-255 scale), independent per pixel and channel,
    from the context's seeded generator (the same noise on every run)."""
    rng = ctx.rng()
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        out[i] = to_uint8(frame + rng.normal(0.0, 20 * strength, frame.shape))
    return out
