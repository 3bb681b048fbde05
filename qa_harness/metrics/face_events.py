"""Blink and mouth-open events from EAR/MAR trajectories, and their agreement (event F1).

An event is a maximal run of frames in a state: eyes closed (EAR below `BLINK_RATIO` x the reference
clip's median EAR: open-eye EAR differs between people, 0.2 to 0.45 on the repo clips, so the threshold
is relative) or mouth open (inner-lip MAR above `MOUTH_OPEN_MAR`; MAR is near 0 for closed lips for
everyone). A reference event counts as reproduced when an output event overlaps it, with `TOLERANCE`
frames of slack either way, and vice versa; F1 = 2PR / (P + R). Frames without a face are not in the
state. NaN when neither trajectory has an event (nothing to agree on).
"""

from __future__ import annotations

import numpy as np

BLINK_RATIO = 0.7
MOUTH_OPEN_MAR = 0.3
TOLERANCE = 1


def events(state: np.ndarray) -> list[tuple[int, int]]:
    """Boolean (T,) -> inclusive (start, end) frame ranges of its runs of True."""
    padded = np.concatenate([[False], state.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _matched(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """How many events of `a` overlap some event of `b` (with TOLERANCE frames of slack)."""
    return sum(any(s <= be + TOLERANCE and bs <= e + TOLERANCE for bs, be in b) for s, e in a)


def event_f1(output_state: np.ndarray, reference_state: np.ndarray) -> float:
    """F1 of output events against reference events; NaN when neither has any."""
    out, ref = events(output_state), events(reference_state)
    if not out and not ref:
        return float("nan")
    if not out or not ref:
        return 0.0
    precision, recall = _matched(out, ref) / len(out), _matched(ref, out) / len(ref)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def eyes_closed(ear: np.ndarray, reference_ear: np.ndarray) -> np.ndarray:
    """Frames whose EAR is below BLINK_RATIO x the reference's median (NaN frames: not closed)."""
    if not np.isfinite(reference_ear).any():
        return np.zeros(ear.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return ear < BLINK_RATIO * np.nanmedian(reference_ear)


def mouth_open(mar: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return mar > MOUTH_OPEN_MAR
