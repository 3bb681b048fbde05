"""Typed records that flow through the pipeline: suite -> runner -> per-pair records -> run result.

All are frozen: a stage reads the value of the stage before it and writes a new one. A pair's frame
records stay columns (`PairRecords`) from the runner to Parquet, in a wide layout: one row per frame,
`metric:<name>` and `cond:<axis>` columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the runs layer reads these records; imported for annotations only
    from qa_harness.runs.meta import RunSummary
    from qa_harness.runs.table import ConditionTable

Protocol = Literal["reconstruction", "cross"]
PROTOCOLS: tuple[str, ...] = ("reconstruction", "cross")
METRIC_PREFIX = "metric:"
COND_PREFIX = "cond:"
#: Clip-level metric columns of the per-pair table (`clips.parquet`): one value per clip.
CLIP_METRIC_PREFIX = "clip_metric:"
#: Column of the per-pair table naming the metrics that failed on a pair, with reasons (when any did).
METRIC_ERRORS = "metric_errors"


@dataclass(frozen=True, slots=True)
class CropBox:
    """Square face crop in source-pixel coordinates (left, top, side), applied before resizing."""

    left: int
    top: int
    size: int


@dataclass(frozen=True, slots=True)
class Clip:
    """One media item of a suite: a video, a folder of frames, or a still photo (frame_count 1)."""

    id: str
    path: Path
    fps: float
    frame_count: int
    size: tuple[int, int]  # (width, height) of the decoded media, before cropping
    tags: Mapping[str, str] = field(default_factory=dict)
    crop: CropBox | None = None
    sha256: str = ""
    problem: str = ""  # why the media cannot be used (set when probing fails); its pairs then fail


@dataclass(frozen=True, slots=True)
class Pair:
    """What a model is asked to do once: animate `source` with `driving`.

    `reconstruction`: source is frame 0 of the driving clip and every driving frame is the ground truth
    (the FOMM/TPSMM/MRFA papers' protocol). `cross`: source is another clip's first frame or a photo; no
    ground truth, so only no-reference metrics apply.
    """

    id: str
    source: Clip
    driving: Clip
    protocol: Protocol
    #: Measured per-frame tags (from `suites tag`), one mapping per driving frame; may be empty.
    frame_tags: tuple[Mapping[str, str], ...] = ()

    @property
    def conditions(self) -> Mapping[str, str]:
        """Condition tags every frame of this pair carries: the driving clip's tags."""
        return self.driving.tags

    def frame_conditions(self, frame: int) -> Mapping[str, str]:
        """The clip's tags, overridden by the frame's measured tags where there are some."""
        if frame < len(self.frame_tags):
            return {**self.driving.tags, **self.frame_tags[frame]}
        return self.driving.tags


@dataclass(frozen=True, slots=True)
class Suite:
    """A versioned set of pairs; `version` hashes the manifest and every media file."""

    name: str
    version: str
    path: Path
    resolution: int
    max_frames: int | None
    pairs: tuple[Pair, ...]
    metrics: tuple[str, ...] = ()
    #: Metric name -> options over the catalog's (the manifest's `metric_options`).
    metric_options: Mapping[str, Mapping[str, object]] = field(default_factory=dict, hash=False)

    def frames_of(self, pair: Pair) -> int:
        """Driving frames evaluated for `pair`: the clip's, capped at `max_frames`."""
        return min(pair.driving.frame_count, self.max_frames or pair.driving.frame_count)


@dataclass(frozen=True)
class PairRecords:
    """One finished pair's per-frame records, column by column: what the runner returns, a Ray worker ships
    as it is (numpy arrays pickle as buffers) and the store writes straight to Parquet.

    `metrics`: column -> (n,) float64 values, NaN for a metric that failed on this pair (its reason is in
    the pair's `ClipOutcome.metric_errors`). `conditions`: axis -> one value per frame (None where a frame
    has none), from the clip's tags and the frame's measured tags.
    """

    run_id: str
    suite: str
    suite_version: str
    pair_id: str
    protocol: str
    frames: np.ndarray  # (n,) int64 frame indices
    metrics: Mapping[str, np.ndarray]
    conditions: Mapping[str, tuple[str | None, ...]]

    def __len__(self) -> int:
        return len(self.frames)

    def to_frame(self) -> pd.DataFrame:
        """The wide table: identity columns, then `metric:<name>` floats and `cond:<axis>` strings."""
        n = len(self.frames)
        columns: dict[str, object] = {
            "run_id": [self.run_id] * n,
            "suite": [self.suite] * n,
            "suite_version": [self.suite_version] * n,
            "pair_id": [self.pair_id] * n,
            "protocol": [self.protocol] * n,
            "frame": self.frames.astype(np.int64),
        }
        columns |= {METRIC_PREFIX + k: np.asarray(v, dtype=np.float64) for k, v in self.metrics.items()}
        columns |= {COND_PREFIX + k: list(v) for k, v in self.conditions.items()}
        return pd.DataFrame(columns)


ClipStatus = Literal["ok", "failed"]


@dataclass(frozen=True, slots=True)
class ClipOutcome:
    """How one pair went: finished (with clip-level metric values) or failed with its error."""

    pair_id: str
    status: ClipStatus
    frames: int
    seconds: float
    error: str = ""
    clip_metrics: Mapping[str, float] = field(default_factory=dict)
    #: Fraction of the model's output values outside [0, 1] (clamped before scoring; see guards.py).
    output_out_of_range: float = 0.0
    #: Frames a metric could not score, by metric and reason (from the metrics' `UNSCORED` codes).
    unscored: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Metrics that raised on this pair, with the reason: their values are NaN, the pair is still `ok`.
    metric_errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What an evaluation produced: where its records are, how each clip went, the condition table and the
    summary (both also written to the run folder and MLflow)."""

    run_id: str
    out_dir: Path
    records_path: Path
    outcomes: tuple[ClipOutcome, ...]
    table: ConditionTable
    summary: RunSummary

    @property
    def failed(self) -> tuple[ClipOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def unavailable_metrics(self) -> Mapping[str, str]:
        return self.summary.unavailable_metrics

    @property
    def frames_per_second(self) -> float:
        return float(self.summary.perf.get("frames_per_second") or 0.0)


def metric_columns(table: pd.DataFrame) -> list[str]:
    """Metric names (without prefix) present in a records table."""
    return [c[len(METRIC_PREFIX) :] for c in table.columns if c.startswith(METRIC_PREFIX)]


def condition_columns(table: pd.DataFrame) -> list[str]:
    """Condition axes (without prefix) present in a records table."""
    return [c[len(COND_PREFIX) :] for c in table.columns if c.startswith(COND_PREFIX)]
