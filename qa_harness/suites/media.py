"""Decode clips, frame folders and photos to uint8 RGB arrays for tagging and synthesis.

Tagging and synthesis work on uint8 (N, H, W, 3) arrays, not the runner's float tensors: the face
detector takes uint8, and synthetic frames are written as lossless PNGs, whose bytes must be the same
on every run. A clip is an .mp4 (any container PyAV reads), a folder of .png/.jpg frames (the FOMM
dataset layout, sorted by name) or a single image (one frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from qa_harness.errors import ClipError
from qa_harness.records import CropBox

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _to_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def frame_files(folder: Path) -> list[Path]:
    """The frame images of a FOMM-layout folder, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ClipError(f"{folder}: folder holds no frame images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _decode_video(path: Path, max_frames: int | None, stride: int) -> list[np.ndarray]:
    import av

    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and len(frames) >= max_frames:
                    break
                if index % stride == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, IndexError) as err:
        raise ClipError(f"{path}: cannot decode video: {err}") from err
    return frames


def read_frames(path: Path, *, max_frames: int | None = None, stride: int = 1) -> np.ndarray:
    """All frames (or every `stride`-th, at most `max_frames`) of a clip as uint8 (N, H, W, 3)."""
    path = Path(path)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if not path.exists():
        raise ClipError(f"{path}: no such file or folder")
    if path.is_dir():
        files = frame_files(path)[::stride][:max_frames]
        frames = [_to_rgb(Image.open(f)) for f in files]
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        frames = [_to_rgb(Image.open(path))]
    else:
        frames = _decode_video(path, max_frames, stride)
    if not frames:
        raise ClipError(f"{path}: no frames decoded")
    if len({f.shape for f in frames}) != 1:
        raise ClipError(f"{path}: frames differ in size")
    return np.stack(frames)


def write_frames(frames: np.ndarray, folder: Path) -> list[Path]:
    """Write uint8 (N, H, W, 3) frames as lossless `00000.png`... (the FOMM layout); returns the files.

    PNG bytes depend only on the pixels (PIL writes no time stamp), so equal frames give equal files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, frame in enumerate(frames):
        file = folder / f"{index:05d}.png"
        Image.fromarray(frame).save(file, format="PNG", optimize=False, compress_level=6)
        files.append(file)
    return files


def crop_resize(frames: np.ndarray, crop: CropBox | None, resolution: int) -> np.ndarray:
    """Square-crop uint8 frames (`crop`, else the centred square) and resize to `resolution`².

    Lanczos resampling (PIL): deterministic, and antialiased when shrinking, as FOMM-style crops are.
    """
    height, width = frames.shape[1:3]
    box = crop or centre_square(width, height)
    if box.left + box.size > width or box.top + box.size > height:
        raise ClipError(f"crop box {box} does not fit the {width}x{height} frame")
    area = (box.left, box.top, box.left + box.size, box.top + box.size)
    return np.stack(
        [
            np.asarray(Image.fromarray(f).resize((resolution, resolution), Image.LANCZOS, box=area))
            for f in frames
        ]
    )


def centre_square(width: int, height: int) -> CropBox:
    """The largest centred square of a width x height frame."""
    size = min(width, height)
    return CropBox(left=(width - size) // 2, top=(height - size) // 2, size=size)
