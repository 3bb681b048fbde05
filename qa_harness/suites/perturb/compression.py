"""Compression: every frame through JPEG, or the clip through H.264, then decoded back.

Encoders are pinned to one thread, and x264 runs without its lookahead, so the bytes (and so the decoded
frames) are the same on every run, whatever the machine's load.
"""

from __future__ import annotations

import io

import av
import numpy as np
from PIL import Image

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
    """The clip through libx264 at CRF round(23 + 28 s) (strength 1: CRF 51, the worst), yuv420p,
    preset medium without the rate-control lookahead (see the options), 25 fps, one thread."""
    crf = int(round(23 + 28 * strength))
    height, width = frames.shape[1:3]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {
            "crf": str(crf),
            "preset": "medium",
            # One thread and explicit time stamps. x264's frame-type lookahead (rc-lookahead, mbtree)
            # gave different bytes now and then under CPU load even so (1 encode in 24 with 4 processes
            # on 2 cores); without it, 66 of 66 encodes matched.
            "x264-params": "threads=1:lookahead-threads=1:sync-lookahead=0:sliced-threads=0:rc-lookahead=0:mbtree=0",
        }
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        container.streams.video[0].thread_count = 1
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(decoded)
