"""Real frames and damaged media for tests, all derived from the clips shipped in data/."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[2]
CLIPS = REPO / "data" / "clips"
PHOTOS = REPO / "data" / "photos"


def decode(path: Path, n: int) -> list[np.ndarray]:
    """The first `n` frames of a clip as (H, W, 3) uint8."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n:
                break
    return out


def write_mp4(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Encode frames losslessly-ish (H.264, crf 0 in yuv444) into an mp4."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": "0"}
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncated_copy(src: Path, dst: Path, keep: float = 0.5) -> Path:
    """The first `keep` share of a file's bytes (a download cut short)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
