"""Event extraction and event F1 on hand-made state sequences (the rules in metrics/face_events.py)."""

from __future__ import annotations

import math

import numpy as np

from qa_harness.metrics.face_events import BLINK_RATIO, event_f1, events, eyes_closed, mouth_open


def s(text: str) -> np.ndarray:
    """'..##..' -> boolean states (# = in the state)."""
    return np.array([c == "#" for c in text])


def test_events_are_maximal_runs() -> None:
    assert events(s("##..#...###")) == [(0, 1), (4, 4), (8, 10)]
    assert events(s("....")) == []


def test_f1_counts_overlaps_with_one_frame_of_slack() -> None:
    assert event_f1(s("..##....##.."), s("..##....##..")) == 1.0
    assert event_f1(s("....##......"), s("..##........")) == 1.0  # one frame apart: same blink, a bit late
    assert event_f1(s(".......##..."), s("..##........")) == 0.0  # far apart: a miss and a false alarm
    # two reference blinks, the output reproduces one and adds none: P = 1, R = 1/2
    assert event_f1(s("..##........"), s("..##....##..")) == 2 * 1 * 0.5 / 1.5
    assert event_f1(s("............"), s("..##........")) == 0.0  # frozen eyes never blink
    assert math.isnan(event_f1(s("......"), s("......")))  # nothing to agree on


def test_states_use_a_relative_blink_threshold_and_ignore_missing_faces() -> None:
    reference = np.array([0.30, 0.31, 0.29, 0.12, 0.30, np.nan])
    closed = eyes_closed(reference, reference)
    assert closed.tolist() == [False, False, False, True, False, False]
    assert np.nanmedian(reference) * BLINK_RATIO > 0.12
    assert mouth_open(np.array([0.05, 0.45, np.nan])).tolist() == [False, True, False]
