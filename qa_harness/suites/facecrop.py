"""Where the face is in the pixels a model gets: the face-centred square of non-square media, and
whether a crop holds a face at all.

Evaluation decodes a clip through its manifest crop box, else the centred square (`video.io`). For a
tall portrait or a wide shot the centred square can miss the face (a torso, a background), so `suites
tag` stores a crop box for every non-square clip without one: the largest square (side = the short
side, as the centred square) moved to centre the face found over the clip, found once, so tagging and
evaluation read the same pixels. `suites validate` uses `face_in_crop` to warn about crops with no face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa_harness.records import CropBox
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import iter_arrays
from qa_harness.video.io import iter_frames_uint8, probe

#: Frames sampled (evenly, at their own size) to place a clip's face crop.
SAMPLES = 8


def face_square(path: Path, *, max_frames: int | None = None) -> CropBox | None:
    """The short-side square centred (as far as the frame allows) on the union of the face boxes of
    up to `SAMPLES` frames of the clip's first `max_frames`; None when no sampled frame has a face."""
    info = probe(path)
    frames = min(info.frame_count, max_frames or info.frame_count)
    stride = max(1, frames // SAMPLES)
    sampled = np.concatenate(list(iter_arrays(path, max_frames=min(SAMPLES, frames), stride=stride)))
    faces = detect_faces(sampled)
    if not faces.found.any():
        return None
    boxes = faces.boxes[faces.found]
    cx = (boxes[:, 0].min() + boxes[:, 2].max()) / 2
    cy = (boxes[:, 1].min() + boxes[:, 3].max()) / 2
    size = min(info.width, info.height)
    left = int(round(np.clip(cx - size / 2, 0, info.width - size)))
    top = int(round(np.clip(cy - size / 2, 0, info.height - size)))
    return CropBox(left=left, top=top, size=size)


def face_in_crop(path: Path, *, resolution: int, crop: CropBox | None, frames: int = 1) -> bool:
    """True when the face detector finds a face in any of the first `frames` frames as evaluation
    decodes them (through `crop`, else the centred square, at `resolution`)."""
    decoded = next(iter_frames_uint8(path, resolution=resolution, crop=crop, chunk=frames, max_frames=frames))
    return bool(detect_faces(decoded).found.any())
