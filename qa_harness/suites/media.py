"""Clips as uint8 RGB arrays at their own size, for tagging and synthesis; PNG frame and H.264 writing.

Tagging and synthesis work on uint8 (N, H, W, 3) arrays, not the runner's resized float tensors: the
face detector takes uint8 at the source size, and synthetic frames are written as lossless PNGs whose
bytes must be the same on every run. Decoding itself (videos, FOMM frame folders, images, 16-bit and
grayscale) is `qa_harness.video.io`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from PIL import Image

from qa_harness.errors import ClipError
from qa_harness.records import CropBox
from qa_harness.video.io import _decoded_arrays


def _as_uint8(frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:
        return frame
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


def iter_arrays(path: Path, *, chunk: int = 64, max_frames: int | None = None, stride: int = 1) -> Iterator[np.ndarray]:
    """uint8 (n, H, W, 3) chunks of every `stride`-th frame, at most `max_frames` of them."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    path = Path(path)
    if not path.exists():
        raise ClipError(f"{path}: no such file or folder")
    pending: list[np.ndarray] = []
    kept = 0
    for index, frame in enumerate(_decoded_arrays(path)):
        if max_frames is not None and kept >= max_frames:
            break
        if index % stride:
            continue
        if pending and frame.shape != pending[0].shape:
            raise ClipError(f"{path}: frame {index} is {frame.shape[:2]}, earlier frames {pending[0].shape[:2]}")
        pending.append(_as_uint8(frame))
        kept += 1
        if len(pending) == chunk:
            yield np.stack(pending)
            pending = []
    if pending:
        yield np.stack(pending)


def read_frames(path: Path, *, max_frames: int | None = None, stride: int = 1) -> np.ndarray:
    """All frames (or every `stride`-th, at most `max_frames`) of a clip as uint8 (N, H, W, 3)."""
    return np.concatenate(list(iter_arrays(path, max_frames=max_frames, stride=stride)))


def write_frames(frames: np.ndarray, folder: Path, *, first: int = 0) -> list[Path]:
    """Write uint8 (N, H, W, 3) frames as lossless `00000.png`... (the FOMM layout), numbered from
    `first`; returns the files.

    PNG bytes depend only on the pixels (PIL writes no time stamp), so equal frames give equal files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, frame in enumerate(frames, start=first):
        file = folder / f"{index:05d}.png"
        Image.fromarray(frame).save(file, format="PNG", optimize=False, compress_level=6)
        files.append(file)
    return files


def encode_h264(frames: np.ndarray, target: Path | BinaryIO, *, crf: int, fps: int = 25) -> None:
    """Encode uint8 (N, H, W, 3) frames as an H.264 .mp4 (libx264, yuv420p, preset medium) at `crf`.

    Deterministic: one thread, explicit time stamps and no rate-control lookahead, so equal frames give
    equal bytes whatever the machine's load.
    """
    height, width = frames.shape[1:3]
    with av.open(target, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
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
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            picture.pts = index
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


def crop_resize(frames: np.ndarray, crop: CropBox | None, resolution: int) -> np.ndarray:
    """Square-crop uint8 frames (`crop`, else the centred square) and resize to `resolution`².

    Lanczos resampling (PIL): deterministic, and antialiased when shrinking, as FOMM-style crops are.
    """
    height, width = frames.shape[1:3]
    box = crop or centre_square(width, height)
    if box.left + box.size > width or box.top + box.size > height:
        raise ClipError(f"crop box {box} does not fit the {width}x{height} frame")
    area = (box.left, box.top, box.left + box.size, box.top + box.size)
    size = (resolution, resolution)
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.LANCZOS, box=area)) for f in frames])


def centre_square(width: int, height: int) -> CropBox:
    """The largest centred square of a width x height frame."""
    size = min(width, height)
    return CropBox(left=(width - size) // 2, top=(height - size) // 2, size=size)
