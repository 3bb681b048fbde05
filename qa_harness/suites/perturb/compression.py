"""Compression: every frame through JPEG, or the clip through H.264, then decoded back.

Encoders are pinned to one thread, and x264 runs without its lookahead (`media.encode_h264`), so the
bytes (and so the decoded frames) are the same on every run, whatever the machine's load.
"""

from __future__ import annotations

import io

import av
import numpy as np
from PIL import Image

from qa_harness.suites.media import encode_h264
from qa_harness.suites.perturb.base import PerturbContext


def jpeg(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """Per-frame JPEG at quality round(75 - 65 s) (strength 1: quality 10), 4:2:0 chroma."""
    quality = int(round(75 - 65 * strength))
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def h264(frames: np.ndarray, strength: float, ctx: PerturbContext) -> np.ndarray:
    """The clip through libx264 at CRF round(23 + 28 s) (strength 1: CRF 51, the worst), as
    `media.encode_h264` writes it (yuv420p, preset medium, deterministic), 25 fps."""
    crf = int(round(23 + 28 * strength))
    buffer = io.BytesIO()
    encode_h264(frames, buffer, crf=crf)
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        container.streams.video[0].thread_count = 1
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(decoded)
