"""A pair's metric values, collected column by column, with each metric's failure kept to itself.

The runner hands every batch to `MetricColumns.add`; each metric's (N,) values are appended as numpy
arrays and concatenated once at the end of the pair (no per-frame objects). A metric that raises, on
any batch, is marked failed for this pair with its reason: it is not asked again, all its columns
become NaN for the whole pair (values of earlier batches are dropped, so a clip mean never covers only
the frames before the failure), and the other metrics and the pair go on. A failure in the clip-level
reduction makes that metric's clip-level values NaN (its per-frame values stand), reason recorded too.
Why: one face metric tripping on one odd frame used to drop every metric of the pair and make the run
exit 3 as if the model had failed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from qa_harness.errors import QaHarnessError
from qa_harness.metrics.base import UNSCORED, FrameBatch, Metric

log = logging.getLogger(__name__)


def _reason(err: Exception) -> str:
    return str(err) if isinstance(err, QaHarnessError) else f"{type(err).__name__}: {err}"


@dataclass(frozen=True)
class Score:
    """One metric's result on one batch, plain picklable data: its (N,) columns, unscored frames per
    reason and region boxes on the CPU, or why it failed (`error`: where, then the reason)."""

    values: dict[str, np.ndarray] = field(default_factory=dict)
    unscored: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, Tensor] = field(default_factory=dict)
    error: str = ""


def score_batch(
    metrics: Sequence[Metric], batch: FrameBatch, *, boxes: bool = False, values: bool = True
) -> dict[str, Score]:
    """Metric name -> its `Score` on `batch`: region boxes first (`boxes`, for thumbnails), then values.

    Pure (no pair state), so it runs in this process or in a metric worker (`qa_harness.pipeline`); a
    metric that raises gets an error score and is not asked again for this batch.
    """
    scores: dict[str, Score] = {m.name: Score() for m in metrics}
    where = f"frames {int(batch.frames[0])}-{int(batch.frames[-1])}"
    for metric in metrics if boxes else ():
        try:
            found = {k: v.detach().cpu() for k, v in metric.region_boxes(batch).items()}
        except Exception as err:
            scores[metric.name] = Score(error=f"region boxes: {_reason(err)}")
            continue
        scores[metric.name] = Score(boxes=found)
    for metric in metrics if values else ():
        if scores[metric.name].error:
            continue
        try:
            found = metric.frame_values(batch)
            codes = found.pop(UNSCORED, None)
            arrays = {k: v.detach().float().cpu().numpy() for k, v in found.items()}
            unscored = _unscored_counts(metric, codes) if codes is not None else {}
        except Exception as err:  # this metric only: see the module docstring
            scores[metric.name] = Score(error=f"{where}: {_reason(err)}")
            continue
        scores[metric.name] = Score(arrays, unscored, scores[metric.name].boxes)
    return scores


def _unscored_counts(metric: Metric, codes: Tensor) -> dict[str, int]:
    """A batch's reason codes (0: scored) as reason text -> frames."""
    counts: dict[str, int] = {}
    for code, n in zip(*np.unique(codes.cpu().numpy(), return_counts=True), strict=True):
        if code:
            reason = metric.reasons[int(code) - 1]
            counts[reason] = counts.get(reason, 0) + int(n)
    return counts


class MetricColumns:
    """Per-frame columns of the applicable metrics of one pair, and the reasons of those that failed."""

    def __init__(self, metrics: Sequence[Metric], pair_id: str) -> None:
        self.metrics = list(metrics)
        self.pair_id = pair_id
        self.errors: dict[str, str] = {}  # metric name -> why it failed on this pair
        self._parts: dict[str, dict[str, list[np.ndarray]]] = {m.name: {} for m in self.metrics}
        self._unscored: dict[str, dict[str, int]] = {m.name: {} for m in self.metrics}  # metric -> reason -> frames

    def _fail(self, metric: Metric, reason: str) -> None:
        self.errors.setdefault(metric.name, reason)
        log.warning(
            "metric %s failed on pair %r (its values are NaN, the pair goes on): %s", metric.name, self.pair_id, reason
        )

    def live(self) -> list[Metric]:
        """The metrics not failed on this pair (those a batch is scored with)."""
        return [m for m in self.metrics if m.name not in self.errors]

    def add(self, batch: FrameBatch) -> None:
        """Score one batch with every metric that has not failed on this pair."""
        self.merge(score_batch(self.live(), batch))

    def merge(self, scores: Mapping[str, Score]) -> dict[str, Tensor]:
        """Take in one batch's scores (`score_batch`, here or in a metric worker), in metric order; the
        region boxes of the live metrics (first to name a region wins). A metric failed by an earlier
        batch is skipped: merged in batch order, the columns are the serial path's whatever ran where."""
        boxes: dict[str, Tensor] = {}
        for metric in self.live():
            if (score := scores.get(metric.name)) is None:
                continue
            if score.error:
                self._fail(metric, score.error)
                continue
            for name, box in score.boxes.items():
                boxes.setdefault(name, box)
            for name, array in score.values.items():
                self._parts[metric.name].setdefault(name, []).append(array)
            counts = self._unscored[metric.name]
            for reason, n in score.unscored.items():
                counts[reason] = counts.get(reason, 0) + n
        return boxes

    def unscored(self) -> dict[str, dict[str, int]]:
        """Metric -> {reason: frames} for the live metrics that left frames unscored (a failed one is all NaN
        for its own reason, in `errors`)."""
        return {m: counts for m, counts in self._unscored.items() if counts and m not in self.errors}

    def nothing_measured(self, per_frame: Mapping[str, np.ndarray], clip: Mapping[str, float]) -> str:
        """Why the pair measured nothing, metric by metric ('' when some quality value is finite).

        Every value of every quality column (descriptive ones left out) NaN on every frame: such a pair
        must not read "ok" (issue #15, point 10); the runner fails it with this reason."""
        declared = [c for m in self.metrics for c in (*m.columns, *m.clip_columns)]
        descriptive = {c.name for c in declared if c.higher_is_better is None}
        frame_values = (v for k, v in per_frame.items() if k not in descriptive)
        if any(np.isfinite(v).any() for v in frame_values):
            return ""
        if any(math.isfinite(v) for k, v in clip.items() if k not in descriptive):
            return ""
        why = []
        for metric in self.metrics:
            if metric.name in self.errors:
                why.append(f"{metric.name}: failed: {self.errors[metric.name]}")
            elif counts := self._unscored[metric.name]:
                why.append(f"{metric.name}: " + ", ".join(f"{n} frames {reason}" for reason, n in counts.items()))
            else:
                why.append(f"{metric.name}: NaN with no reason given")
        return "; ".join(why)

    def per_frame(self, n: int) -> dict[str, np.ndarray]:
        """Column -> (n,) values in metric order; NaN columns (declared `columns`) for a failed metric."""
        out: dict[str, np.ndarray] = {}
        for metric in self.metrics:
            parts = self._parts[metric.name]
            if metric.name in self.errors:
                names = dict.fromkeys([*parts, *(c.name for c in metric.columns)])
                out |= {name: np.full(n, np.nan, dtype=np.float32) for name in names}
            else:
                out |= {name: np.concatenate(arrays) for name, arrays in parts.items()}
        return out

    def clip_values(self, per_frame: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Clip-level values of every metric; NaN (declared `clip_columns`) for a failed one."""
        out: dict[str, float] = {}
        for metric in self.metrics:
            nan = {c.name: float("nan") for c in metric.clip_columns}
            if metric.name in self.errors:
                out |= nan
                continue
            try:
                out |= {k: float(v) for k, v in metric.clip_values(per_frame).items()}
            except Exception as err:
                self._fail(metric, f"clip-level values: {_reason(err)}")
                out |= nan
        return out
