"""Tag a clip with condition labels: decode in chunks, find faces (and landmarks when an axis needs
them), run the named axes, bin.

Per frame and per clip: frame labels go into every frame record (`cond:<tag>`), clip labels into the
suite manifest, so every metric can be cut by every condition. Measurements are taken chunk by chunk
(a long video never sits in memory whole) and binned once over the whole clip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qa_harness.catalog import AXES, DEFAULT_LANDMARKS, LANDMARKS
from qa_harness.errors import ConfigError
from qa_harness.records import CropBox
from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.bins import DEFAULT_BINS, load_bins
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import iter_arrays
from qa_harness.suites.recrop import landmarks_in_crops
from qa_harness.video.io import iter_frames_uint8


@dataclass(frozen=True, slots=True)
class ClipTags:
    """All axes' results for one clip, merged by tag name; measures keyed `<axis>.<measure>`."""

    frame_labels: Mapping[str, tuple[str, ...]]
    clip_labels: Mapping[str, str]
    clip_values: Mapping[str, float]
    measures: Mapping[str, np.ndarray]


def build_axes(names: Sequence[str], *, bins_path: Path | None = None) -> list[ConditionAxis]:
    """Axes by registry name, each with its bins from the bins file (an axis without bins raises)."""
    bins = load_bins(bins_path)
    axes = []
    for name in names:
        AXES.get(name)  # an unknown axis says so before a missing bin does
        if name not in bins:
            raise ConfigError(bins_path or DEFAULT_BINS, name, f"no bins for condition axis '{name}'")
        axes.append(AXES.build(name, bins[name]))
    return axes


class Tagger:
    """Runs a fixed set of axes over clips; the landmark backend (registry name) is built once, and
    only when an axis needs landmarks."""

    def __init__(self, axes: Sequence[ConditionAxis], *, landmarks: str = DEFAULT_LANDMARKS) -> None:
        self.axes = tuple(axes)
        needs = any(a.needs_landmarks for a in self.axes)
        self.backend = LANDMARKS.build(landmarks, device=torch.device("cpu")) if needs else None

    def observe(self, frames: np.ndarray) -> Observation:
        """Face boxes (always: lighting and crops use them; with the bordered retry of
        `facebox.PADS` for faces cropped tight) and landmarks when an axis needs them (and with a
        second pass on the detector's crops where the backend missed a face: `recrop`)."""
        faces, landmarks, cropped = detect_faces(frames, padded=True), None, None
        if self.backend is not None:
            landmarks = self.backend.detect(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
            cropped = landmarks_in_crops(self.backend, frames, faces, landmarks)
        return Observation(frames=frames, faces=faces, landmarks=landmarks, crop_landmarks=cropped)

    def _label(self, per_chunk: list[list[dict[str, np.ndarray]]], stride: int = 1) -> ClipTags:
        merged: dict[str, dict] = {"frame_labels": {}, "clip_labels": {}, "clip_values": {}, "measures": {}}
        for k, axis in enumerate(self.axes):
            chunks = {m: np.concatenate([c[k][m] for c in per_chunk]) for m in axis.measures}
            measures = axis.finish(chunks, stride=stride)
            result = axis.label(measures)
            merged["frame_labels"].update(result.frame_labels)
            merged["clip_labels"].update(result.clip_labels)
            merged["clip_values"].update(result.clip_values)
            merged["measures"].update({f"{axis.name}.{m}": v for m, v in measures.items()})
        return ClipTags(**merged)

    def tag_frames(self, frames: np.ndarray) -> ClipTags:
        """Tag uint8 (N, H, W, 3) frames of one clip."""
        obs = self.observe(frames)
        return self._label([[a.measure(obs) for a in self.axes]])

    def tag_clip(
        self,
        path: Path,
        *,
        max_frames: int | None = None,
        stride: int = 1,
        chunk: int = 64,
        resolution: int | None = None,
        crop: CropBox | None = None,
    ) -> ClipTags:
        """Decode a clip (video, frame folder or photo) in chunks and tag it.

        With `resolution`, frames come through evaluation's decoder (`crop`, else the centred
        square, resized), so the tags describe the pixels a model gets; without, whole frames at
        their own size (every `stride`-th), for media not yet cropped (curation, benchmarks).
        """
        if resolution is None and crop is not None:
            raise ValueError("tag_clip: a crop needs the resolution the cropped frames are resized to")
        if resolution is not None and stride != 1:
            raise ValueError("tag_clip: stride applies to whole frames only (resolution=None)")
        chunks = (
            iter_arrays(path, chunk=chunk, max_frames=max_frames, stride=stride)
            if resolution is None
            else iter_frames_uint8(path, resolution=resolution, crop=crop, chunk=chunk, max_frames=max_frames)
        )
        per_chunk = []
        for frames in chunks:
            obs = self.observe(frames)
            per_chunk.append([a.measure(obs) for a in self.axes])
        return self._label(per_chunk, stride)
