"""The metric interface: a metric turns a batch of output frames into per-frame values.

Per frame, not per batch: aggregation by clip and by condition is a later stage, and a batch mean
would hide which frames failed. A metric may emit several columns (e.g. eye and mouth SSIM) and may
reduce a clip's per-frame columns to clip-level values (e.g. a trajectory correlation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.records import Pair

#: Optional key in `Metric.frame_values`' result: (N,) integer codes saying why a frame is not scored (NaN):
#: 0 where it is scored, k for the reason `Metric.reasons[k - 1]`. The runner counts them per pair (the
#: run's `unscored` counts) instead of storing them as values.
UNSCORED = "unscored"


@dataclass(frozen=True, slots=True)
class Column:
    """One value a metric reports: its name, direction and range (for reports and gate defaults).

    `higher_is_better=None` marks a descriptive value, not a quality score (e.g. the output's raw eye
    aspect ratio, kept for the clip-level trajectory scores): reports and compare leave it out.
    """

    name: str
    higher_is_better: bool | None
    low: float = float("-inf")
    high: float = float("inf")


@dataclass(frozen=True, slots=True)
class MetricContext:
    """What a metric may need when it is built: the device and a folder for caches."""

    device: torch.device
    cache_dir: Path | None = None
    suite_version: str = ""


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """A batch of consecutive frames of one pair, float in [0, 1] on one device.

    `output`, `driving` and `target` are (N, 3, H, W); `target` is the ground truth (None under the cross
    protocol). `source` is the pair's one source image, (3, H, W), the same for every batch of the pair.
    `frames` are the (N,) driving frame indices.
    """

    pair: Pair
    frames: Tensor
    output: Tensor
    driving: Tensor
    source: Tensor
    target: Tensor | None

    def __post_init__(self) -> None:
        if self.source.ndim != 3:
            raise ValueError(f"FrameBatch.source must be one (3, H, W) image, got shape {tuple(self.source.shape)}")


class Metric(ABC):
    """Base class; subclasses set `name`, `columns` and `needs_reference`."""

    name: str
    columns: tuple[Column, ...]
    #: Needs ground truth: skipped (not NaN-filled) for pairs under the cross protocol.
    needs_reference: bool = True
    #: Clip-level columns produced by `clip_values`.
    clip_columns: tuple[Column, ...] = ()
    #: Why a frame can go unscored, for the codes under `UNSCORED` (code k: `reasons[k - 1]`).
    reasons: tuple[str, ...] = ()
    #: Carries state from batch to batch of a pair (a temporal metric's history): then every batch of a
    #: pair goes to one instance, in order (`qa_harness.pipeline` scores it in the driving process).
    in_order: bool = False

    @abstractmethod
    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        """Column name -> (N,) values for the batch's frames (and, optionally, `UNSCORED` reason codes)."""

    def clip_values(self, per_frame: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Clip-level values from the whole clip's per-frame columns (all metrics'); none by default."""
        return {}

    def run_params(self) -> dict[str, str]:
        """What the run's params record about this metric (e.g. where its weights came from); none by default."""
        return {}

    def region_boxes(self, batch: FrameBatch) -> dict[str, Tensor]:
        """Named regions this metric scores inside, as square boxes (N, 3) = (centre x, centre y, side) in
        pixels, NaN where absent; the runner saves crops of them for the report. None by default."""
        return {}


@dataclass(frozen=True)
class FrameMetric(Metric):
    """A full-reference metric that is one pure function `(output, target) -> (N,)`."""

    name: str
    fn: Callable[[Tensor, Tensor], Tensor]
    higher_is_better: bool
    low: float = float("-inf")
    high: float = float("inf")
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", (Column(self.name, self.higher_is_better, self.low, self.high),))

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        assert batch.target is not None  # the runner never passes cross pairs to reference metrics
        return {self.name: self.fn(batch.output, batch.target)}


def reason_codes(*conditions: Tensor) -> Tensor:
    """(N,) codes from boolean (N,) masks in reason order: the first true mask's number, 0 where none is."""
    codes = torch.zeros(conditions[0].shape, dtype=torch.int64, device=conditions[0].device)
    for k, mask in reversed(list(enumerate(conditions, start=1))):
        codes = torch.where(mask.to(codes.device), torch.full_like(codes, k), codes)
    return codes


def check_frame_pair(output: Tensor, target: Tensor, *, metric: str) -> None:
    """Raise ValueError unless both are (N, 3, H, W) of one shape."""
    if output.shape != target.shape or output.ndim != 4 or output.shape[1] != 3:
        raise ValueError(
            f"{metric}: expected two (N, 3, H, W) batches of one shape, got {tuple(output.shape)} "
            f"and {tuple(target.shape)}"
        )
