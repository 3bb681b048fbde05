"""Per-pair history for temporal metrics: a frame's score needs the frames before it, across batches.

The runner hands a pair's frames to a metric in order, batch after batch (each worker evaluates one pair
at a time). `History` keeps the last few frames' features of the current pair, so a temporal value at
the first frame of a batch uses the end of the previous batch. A new pair, or a batch that does not
continue the previous one, starts a fresh history: those first frames have no predecessor and are NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qa_harness.metrics.base import FrameBatch


class History:
    """The last `size` frames' features (name -> (n, ...) tensors) of the pair being evaluated."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pair: str | None = None
        self._next = -1
        self._kept: dict[str, Tensor] = {}

    def extend(self, batch: FrameBatch, features: dict[str, Tensor]) -> tuple[dict[str, Tensor], int]:
        """(features of the kept frames followed by this batch's, how many kept frames precede the batch)."""
        first = int(batch.frames[0])
        if batch.pair.id != self._pair or first != self._next:
            self._kept = {}
        held = len(next(iter(self._kept.values()))) if self._kept else 0
        full = {k: torch.cat([self._kept[k].to(v.device), v]) if held else v for k, v in features.items()}
        self._kept = {k: v[-self.size :] for k, v in full.items()}
        self._pair, self._next = batch.pair.id, first + len(batch.frames)
        return full, held
