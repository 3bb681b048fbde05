"""Tag a clip with condition labels: decode in chunks, find faces, run the named axes, bin.

Per frame and per clip: frame labels go into every frame record (`cond:<tag>`), clip labels into the
suite manifest, so every metric can be cut by every condition. Measurements are taken chunk by chunk
(a long video never sits in memory whole) and binned once over the whole clip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa_harness.catalog import AXES
from qa_harness.errors import ConfigError
from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.bins import DEFAULT_BINS, load_bins
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import iter_arrays


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
        cls = AXES.get(name)
        if name not in bins:
            raise ConfigError(bins_path or DEFAULT_BINS, name, f"no bins for condition axis '{name}'")
        axes.append(cls(bins[name]))
    return axes


def observe(frames: np.ndarray, axes: Sequence[ConditionAxis]) -> Observation:
    """Face boxes (always: lighting and crops use them) and landmarks when an axis needs them."""
    if any(a.needs_landmarks for a in axes):
        raise NotImplementedError("landmark-based axes arrive with the landmark backends")
    return Observation(frames=frames, faces=detect_faces(frames))


def _label(per_chunk: list[list[dict[str, np.ndarray]]], axes: Sequence[ConditionAxis]) -> ClipTags:
    merged: dict[str, dict] = {"frame_labels": {}, "clip_labels": {}, "clip_values": {}, "measures": {}}
    for k, axis in enumerate(axes):
        measures = {m: np.concatenate([chunk[k][m] for chunk in per_chunk]) for m in axis.measures}
        result = axis.label(measures)
        merged["frame_labels"].update(result.frame_labels)
        merged["clip_labels"].update(result.clip_labels)
        merged["clip_values"].update(result.clip_values)
        merged["measures"].update({f"{axis.name}.{m}": v for m, v in measures.items()})
    return ClipTags(**merged)


def tag_frames(frames: np.ndarray, axes: Sequence[ConditionAxis]) -> ClipTags:
    """Run `axes` on uint8 (N, H, W, 3) frames of one clip."""
    obs = observe(frames, axes)
    return _label([[a.measure(obs) for a in axes]], axes)


def tag_clip(
    path: Path, axes: Sequence[ConditionAxis], *, max_frames: int | None = None, stride: int = 1, chunk: int = 64
) -> ClipTags:
    """Decode a clip (video, frame folder or photo) in chunks and tag it."""
    per_chunk = []
    for frames in iter_arrays(path, chunk=chunk, max_frames=max_frames, stride=stride):
        obs = observe(frames, axes)
        per_chunk.append([a.measure(obs) for a in axes])
    return _label(per_chunk, axes)
