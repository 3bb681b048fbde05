"""Decode videos, frame folders and images into (N, 3, R, R) float RGB tensors in [0, 1], in chunks.

Never the whole video in memory: `iter_frames` yields chunks of `chunk` frames. Each frame is cropped
to the manifest's square face box when given (else centre-cropped to a square, so faces are never
stretched), then resized to the evaluation resolution with antialiasing. Grayscale, RGBA and 16-bit
frames become RGB; anything unreadable raises `ClipError` naming the file and the problem.
`iter_frames_uint8` is the same path as uint8 arrays: what `suites tag` and `suites validate` look
at, so tags describe the pixels the model is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from qa_harness.errors import ClipError
from qa_harness.records import CropBox

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FOLDER_FPS = 25.0  # frame folders (the FOMM dataset layout) carry no rate; theirs were 25 fps


@dataclass(frozen=True, slots=True)
class MediaInfo:
    fps: float
    frame_count: int
    width: int
    height: int


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, in name order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def probe(path: Path) -> MediaInfo:
    """Rate, frame count and size, without decoding every frame."""
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise ClipError(f"{path}: frame folder has no .png/.jpg frames")
        h, w = _load_image(files[0]).shape[:2]
        return MediaInfo(FOLDER_FPS, len(files), w, h)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        h, w = _load_image(path).shape[:2]
        return MediaInfo(0.0, 1, w, h)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError(f"{path}: no video stream")
            stream = container.streams.video[0]
            count = stream.frames or sum(1 for p in container.demux(stream) if p.size)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.error.FFmpegError as err:
        raise ClipError(f"{path}: cannot read video: {err}") from err
    if count == 0 or width == 0:
        raise ClipError(f"{path}: video has no frames")
    return MediaInfo(fps, count, width, height)


def _load_image(path: Path) -> np.ndarray:
    """An image file -> (H, W, 3) float32 in [0, 1]; 16-bit and grayscale/RGBA handled."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(img, dtype=np.float32) / 65535.0
                return np.repeat(arr[..., None], 3, axis=2).clip(0.0, 1.0)
            return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ClipError(f"{path}: cannot read image: {err}") from err


def _to_tensor(frames: list[np.ndarray], *, resolution: int, crop: CropBox | None, path: Path) -> Tensor:
    """(H, W, 3) arrays (uint8 or float in [0, 1]) -> (N, 3, R, R) float32 in [0, 1].

    Cropped before anything else: only the square's pixels are stacked and converted to float (a 720p
    frame cropped to 560 px is 1/3 of the work; the same values, the conversion being per pixel).
    """
    h, w = frames[0].shape[:2]
    if crop is not None:
        if crop.left < 0 or crop.top < 0 or crop.left + crop.size > w or crop.top + crop.size > h:
            raise ClipError(f"{path}: crop box {crop} does not fit inside the {w}x{h} frame")
        top, left, side = crop.top, crop.left, crop.size
    else:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
    x = torch.from_numpy(np.stack([f[top : top + side, left : left + side] for f in frames])).permute(0, 3, 1, 2)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp_(0.0, 1.0).contiguous()


def _decoded_arrays(path: Path) -> Iterator[np.ndarray]:
    """Frames of a video, folder or image as (H, W, 3) arrays, one at a time."""
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise ClipError(f"{path}: frame folder has no .png/.jpg frames")
        first = None
        for f in files:
            arr = _load_image(f)
            first = arr.shape if first is None else first
            if arr.shape[:2] != first[:2]:  # whatever the chunking: every frame is checked, and named
                raise ClipError(
                    f"{f}: frame is {arr.shape[1]}x{arr.shape[0]}, but the folder's first frame "
                    f"{files[0].name} is {first[1]}x{first[0]}; every frame of a clip needs one size"
                )
            yield arr
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        yield _load_image(path)
        return
    index = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                index += 1
    except av.error.FFmpegError as err:
        raise ClipError(f"{path}: video is corrupt or truncated at frame {index}: {err}") from err
    except IndexError as err:
        raise ClipError(f"{path}: no video stream") from err


def iter_frames(
    path: Path,
    *,
    resolution: int = 256,
    crop: CropBox | None = None,
    chunk: int = 32,
    max_frames: int | None = None,
    expected: int | None = None,
) -> Iterator[Tensor]:
    """Yield (n, 3, R, R) float32 chunks in [0, 1], n <= chunk, in frame order.

    `expected` (the probed frame count) turns a short read into an error: a truncated file that
    decodes fewer frames than its header promises is a damaged clip, not a shorter one.
    """
    pending: list[np.ndarray] = []
    total = 0
    first = None
    for arr in _decoded_arrays(path):
        first = arr.shape if first is None else first
        if arr.shape[:2] != first[:2]:
            raise ClipError(
                f"{path}: frame {total} is {arr.shape[1]}x{arr.shape[0]}, the first frame "
                f"{first[1]}x{first[0]}; every frame of a clip needs one size"
            )
        pending.append(arr)
        total += 1
        if len(pending) == chunk:
            yield _to_tensor(pending, resolution=resolution, crop=crop, path=path)
            pending = []
        if max_frames is not None and total >= max_frames:
            break
    if pending:
        yield _to_tensor(pending, resolution=resolution, crop=crop, path=path)
    if total == 0:
        raise ClipError(f"{path}: no frames could be decoded")
    wanted = expected if max_frames is None or expected is None else min(expected, max_frames)
    if wanted is not None and total < wanted:
        raise ClipError(f"{path}: truncated: decoded {total} of {wanted} frames")


def iter_frames_uint8(
    path: Path, *, resolution: int, crop: CropBox | None = None, chunk: int = 32, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """`iter_frames` chunks as uint8 (n, R, R, 3) RGB arrays (what the face detectors take)."""
    for x in iter_frames(path, resolution=resolution, crop=crop, chunk=chunk, max_frames=max_frames):
        yield (x * 255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def read_image(path: Path, *, resolution: int = 256, crop: CropBox | None = None) -> Tensor:
    """The first frame of any media as (3, R, R) float32 in [0, 1]."""
    first = next(iter_frames(path, resolution=resolution, crop=crop, chunk=1, max_frames=1))
    return first[0]
