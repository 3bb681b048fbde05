"""Fixtures: simulated runs from real frames (see gate_runs.py), built once per session."""

from __future__ import annotations

import pytest
import torch
from gate_runs import CLIP_TAGS, CLIPS, REGRESSIONS, SEG_LEN, SEGMENTS, decode, make_run

from qa_harness.gate.paired import RunRecords


@pytest.fixture(scope="session")
def truth() -> dict[str, torch.Tensor]:
    """Ground-truth frames of the six repo clips (SEGMENTS * SEG_LEN frames each)."""
    return {name: decode(CLIPS / f"{name}.mp4", SEGMENTS * SEG_LEN) for name in CLIP_TAGS}


@pytest.fixture(scope="session")
def baseline_run(truth) -> RunRecords:
    return make_run(truth, run_id="baseline", seed=1)


@pytest.fixture(scope="session")
def rerun(truth) -> RunRecords:
    return make_run(truth, run_id="rerun", seed=2)


@pytest.fixture(scope="session")
def regressed_runs(truth) -> dict[str, RunRecords]:
    return {name: make_run(truth, run_id=name, seed=3, degrade=fn) for name, fn in REGRESSIONS.items()}


@pytest.fixture()
def degraded_pairs() -> dict[str, set[str]]:
    """Which pair ids each regression touches."""
    pairs = {f"{c}#{s}" for c in CLIP_TAGS for s in range(SEGMENTS)}
    extreme = {p for p in pairs if CLIP_TAGS[p.split("#")[0]]["pose"] == "extreme"}
    return {name: (extreme if name == "extreme_pose_only" else pairs) for name in REGRESSIONS}
