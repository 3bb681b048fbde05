"""Event extraction and event F1 on hand-made state sequences (the rules in metrics/face_events.py)."""

from __future__ import annotations

import math

import numpy as np

from qa_harness.metrics.face_events import BLINK_RATIO, MIN_MAR_SWING, event_f1, events, eyes_closed, mouth_open


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
    closed = eyes_closed(reference)
    assert closed.tolist() == [False, False, False, True, False, False]
    assert np.nanmedian(reference) * BLINK_RATIO > 0.12
    assert mouth_open(np.array([0.05, 0.45, np.nan])).tolist() == [False, True, False]


def test_one_output_event_matches_one_reference_event() -> None:
    """A single long output event spanning three reference events reproduces one of them: F1 = 2/(1+3)."""
    assert event_f1(s(".##########."), s(".##..##..##.")) == 0.5
    assert event_f1(s(".##..##..##."), s(".##########.")) == 0.5


# Reference trajectories with two blinks / two mouth openings (values as measured on repo clips).
EAR = np.array([0.25, 0.24, 0.06, 0.09, 0.24, 0.25, 0.26, 0.25, 0.07, 0.25, 0.26, 0.25])
MAR = np.array([0.01, 0.17, 0.31, 0.40, 0.19, 0.09, 0.03, 0.11, 0.45, 0.40, 0.16, 0.04])


def test_a_frozen_face_has_no_events_whatever_state_it_is_frozen_in() -> None:
    """The issue's case: the source frame had closed eyes / an open mouth; frozen, it was one long event
    overlapping every reference event (F1 1.0). A constant state is no event: F1 0."""
    for frozen in (0.06, 0.09, 0.25):  # closed, nearly closed, open
        assert not eyes_closed(np.full(12, frozen)).any()
        assert event_f1(eyes_closed(np.full(12, frozen)), eyes_closed(EAR)) == 0.0
    for frozen in (0.45, 0.31, 0.01):  # open, just open, closed
        assert not mouth_open(np.full(12, frozen)).any()
        assert event_f1(mouth_open(np.full(12, frozen)), mouth_open(MAR)) == 0.0
    assert math.isnan(event_f1(eyes_closed(np.full(12, 0.06)), eyes_closed(np.full(12, 0.25))))


def test_near_constant_trajectories_have_no_events() -> None:
    """Landmark jitter around a frozen state (±0.02, under MIN_MAR_SWING) crossing the threshold is no event."""
    jitter = np.array([0.02, -0.02] * 6)
    assert np.ptp(jitter) < MIN_MAR_SWING
    assert not mouth_open(0.30 + jitter).any()
    assert not eyes_closed(0.25 + jitter).any()
    assert event_f1(mouth_open(0.30 + jitter), mouth_open(MAR)) == 0.0


def test_f1_falls_when_the_output_is_late() -> None:
    assert event_f1(eyes_closed(EAR), eyes_closed(EAR)) == 1.0 and event_f1(mouth_open(MAR), mouth_open(MAR)) == 1.0
    late_ear, late_mar = np.concatenate([EAR[:1].repeat(3), EAR[:-3]]), np.concatenate([MAR[:1].repeat(3), MAR[:-3]])
    assert event_f1(eyes_closed(late_ear), eyes_closed(EAR)) < 1.0
    assert event_f1(mouth_open(late_mar), mouth_open(MAR)) < 1.0
