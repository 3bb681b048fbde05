"""What a condition axis is: measurements per frame, binned into labels per frame and per clip.

An axis measures (luminance, yaw, ...) and its bins, read from `suites/bins.yaml`, turn measurements
into labels. Labels, not numbers, are what suites and records carry (`cond:<tag>` columns), because
gates and reports are per condition and conditions must be a small closed set; the numbers are kept
next to them for anyone who wants to re-bin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from qa_harness.errors import ConfigError
from qa_harness.suites.bins import TagBins
from qa_harness.suites.facebox import FaceBoxes

if TYPE_CHECKING:
    from qa_harness.landmarks.base import Landmarks


@dataclass(frozen=True, slots=True)
class Observation:
    """What axes look at for one clip: uint8 RGB frames (N, H, W, 3), their face boxes, and 68-point
    landmarks when an axis needs them (None otherwise). `crop_landmarks` adds the faces a second pass
    on the detector's crops found where the frame pass missed (`recrop`): the occlusion axis uses
    them (masked faces); head pose keeps the frame pass, whose accuracy is what its benchmark pins."""

    frames: np.ndarray
    faces: FaceBoxes
    landmarks: Landmarks | None = None
    crop_landmarks: Landmarks | None = None


@dataclass(frozen=True, slots=True)
class AxisTags:
    """An axis's result for one clip: per-frame measurements and labels, clip values and labels."""

    measures: Mapping[str, np.ndarray]
    frame_labels: Mapping[str, tuple[str, ...]]
    clip_values: Mapping[str, float]
    clip_labels: Mapping[str, str]


class ConditionAxis(ABC):
    """Measures frames of a clip and bins the measurements with its tags' `TagBins`."""

    #: Registry name, also the key of this axis in the bins file.
    name: ClassVar[str]
    #: Names of the per-frame measurements `measure` returns.
    measures: ClassVar[tuple[str, ...]]
    #: True when `measure` needs `Observation.landmarks`.
    needs_landmarks: ClassVar[bool] = False

    def __init__(self, bins: tuple[TagBins, ...]) -> None:
        for tag in bins:
            if tag.measure not in self.measures:
                known = ", ".join(self.measures)
                raise ConfigError(
                    tag.source,
                    f"{self.name}.{tag.tag}.measure",
                    f"axis '{self.name}' has no measurement '{tag.measure}'; it has {known}",
                )
        self.bins = bins

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(b.tag for b in self.bins)

    @abstractmethod
    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        """Measurement name -> (N,) float64 per frame (NaN where undefined, e.g. no face)."""

    def finish(self, measures: Mapping[str, np.ndarray], *, stride: int = 1) -> dict[str, np.ndarray]:
        """Measurements that need the whole clip, from the per-chunk ones (default: none); `stride`: the
        measured frames are every `stride`-th of the clip (a rule over consecutive frames scales by it)."""
        return dict(measures)

    def label(self, measures: Mapping[str, np.ndarray]) -> AxisTags:
        """Bin per-frame measurements of a whole clip (after `finish`) into frame and clip labels."""
        frame_labels, clip_values, clip_labels = {}, {}, {}
        for b in self.bins:
            values = measures[b.measure]
            frame_labels[b.tag] = tuple(b.label(float(v)) for v in values)
            clip_values[b.tag] = b.summarise(values)
            clip_labels[b.tag] = b.label(clip_values[b.tag])
        return AxisTags(dict(measures), frame_labels, clip_values, clip_labels)
