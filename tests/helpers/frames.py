"""Decode a few real frames from the repo's clips with PyAV (until tests use qa_harness.video.io)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

REPO = Path(__file__).resolve().parents[2]
CLIPS = REPO / "data" / "clips"


def decode_frames(path: Path, indices: list[int], *, size: int) -> Tensor:
    """Frames `indices` of a video as (N, 3, size, size) float32 RGB in [0, 1] (center crop, resize)."""
    wanted, frames = set(indices), {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames[index] = frame.to_ndarray(format="rgb24")
            if len(frames) == len(wanted):
                break
    if len(frames) != len(wanted):
        raise ValueError(f"{path}: has fewer frames than {max(indices) + 1}")
    batch = torch.from_numpy(np.stack([frames[i] for i in indices])).permute(0, 3, 1, 2).float() / 255
    h, w = batch.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    batch = batch[..., top : top + side, left : left + side]
    return F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)
