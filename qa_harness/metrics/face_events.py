"""Blink and mouth-open events from EAR/MAR trajectories, and their agreement (event F1).

Metric card. *What*: an event is a transient, a maximal run of frames in a state that the trajectory
enters and leaves: eyes closed (EAR below `BLINK_RATIO` x the trajectory's own median EAR; open-eye EAR
differs between people and renderings, 0.2 to 0.45 on the repo clips, so the threshold is relative to
each trajectory's own open level) or mouth open (inner-lip MAR above `MOUTH_OPEN_MAR`; MAR is near 0 for
closed lips for everyone). A run that covers every frame with a face (a state never entered or left) is
no event, and a MAR trajectory that swings less than `MIN_MAR_SWING` (5th to 95th percentile) has none:
a frozen face does not blink or speak, whatever state it is frozen in. *Agreement*: output and reference
events are matched one to one (an output event overlapping a reference event, with `TOLERANCE` frames of
slack either way, in time order); F1 = 2 matches / (output events + reference events). *Range* [0, 1],
higher is better; NaN when neither trajectory has an event (nothing to agree on). *Failure modes*:
landmark jitter larger than the swing (tiny or blurred faces) makes false events; blinks shorter than a
frame at low fps are missed. Frames without a face are not in any state.

>>> ref = np.array([.3, .3, .1, .3, .3, .3, .3, .3, .1, .3, .3, .3])  # two blinks
>>> event_f1(eyes_closed(ref), eyes_closed(ref))
1.0
>>> event_f1(eyes_closed(np.full(12, .1)), eyes_closed(ref))  # frozen with closed eyes: no event
0.0
>>> event_f1(eyes_closed(np.roll(ref, 3)), eyes_closed(ref))  # every blink 3 frames late
0.0
"""

from __future__ import annotations

import numpy as np

BLINK_RATIO = 0.7
MOUTH_OPEN_MAR = 0.3
#: The least 5th-95th percentile range of a MAR trajectory that can hold an opening (lips at rest
#: jitter by about 0.02 on the repo clips; speech swings by 0.2-0.5).
MIN_MAR_SWING = 0.1
TOLERANCE = 1


def events(state: np.ndarray) -> list[tuple[int, int]]:
    """Boolean (T,) -> inclusive (start, end) frame ranges of its runs of True."""
    padded = np.concatenate([[False], state.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _matches(out: list[tuple[int, int]], ref: list[tuple[int, int]]) -> int:
    """One-to-one matches: each reference event takes the first free output event overlapping it (± TOLERANCE)."""
    free, matched = list(out), 0
    for rs, re in ref:
        for k, (s, e) in enumerate(free):
            if s <= re + TOLERANCE and rs <= e + TOLERANCE:
                del free[k]
                matched += 1
                break
    return matched


def event_f1(output_state: np.ndarray, reference_state: np.ndarray) -> float:
    """F1 of output events against reference events, matched one to one; NaN when neither has any."""
    out, ref = events(output_state), events(reference_state)
    if not out and not ref:
        return float("nan")
    return 2 * _matches(out, ref) / (len(out) + len(ref))


def _transient(state: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """`state`, emptied when it holds every frame with a face (never entered or left: no event)."""
    if finite.any() and state[finite].all():
        return np.zeros_like(state)
    return state


def eyes_closed(ear: np.ndarray) -> np.ndarray:
    """Frames whose EAR is below BLINK_RATIO x the trajectory's own median (NaN frames: not closed)."""
    finite = np.isfinite(ear)
    if not finite.any():
        return np.zeros(ear.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return _transient(ear < BLINK_RATIO * np.median(ear[finite]), finite)


def mouth_open(mar: np.ndarray) -> np.ndarray:
    """Frames whose MAR is above MOUTH_OPEN_MAR, in a trajectory that swings by MIN_MAR_SWING at least."""
    finite = np.isfinite(mar)
    if finite.sum() < 2 or np.subtract(*np.percentile(mar[finite], [95, 5])) < MIN_MAR_SWING:
        return np.zeros(mar.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return _transient(mar > MOUTH_OPEN_MAR, finite)
