"""Fixtures: simulated runs from real frames (see gate_runs.py), built once per session."""

from __future__ import annotations

import pytest
import torch
from mlflow.tracking import MlflowClient

from qa_harness.runs.records import RunRecords
from tests.gate.gate_runs import CLIP_TAGS, CLIPS, REGRESSIONS, SEG_LEN, SEGMENTS, decode, log_run, make_run


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
    """Regressed runs by name (see REGRESSIONS), each built on first use."""

    class Runs(dict):
        def __missing__(self, name: str) -> RunRecords:
            self[name] = make_run(truth, run_id=name, seed=3, degrade=REGRESSIONS[name])
            return self[name]

    return Runs()


@pytest.fixture()
def degraded_pairs() -> dict[str, set[str]]:
    """Which pair ids each regression touches."""
    pairs = {f"{c}#{s}" for c in CLIP_TAGS for s in range(SEGMENTS)}
    extreme = {p for p in pairs if CLIP_TAGS[p.split("#")[0]]["pose"] == "extreme"}
    return {name: (extreme if name == "extreme_pose_only" else pairs) for name in REGRESSIONS}


@pytest.fixture(scope="session")
def store(tmp_path_factory, baseline_run, rerun, regressed_runs):
    """Baseline registered as models:/animator@production; a good and a blurred candidate."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    ids = {
        "baseline": log_run(uri, baseline_run, folder / "b"),
        "good": log_run(uri, rerun, folder / "g"),
        "blur": log_run(uri, regressed_runs["blur"], folder / "x"),
    }
    client = MlflowClient(uri)
    client.create_registered_model("animator")
    mv = client.create_model_version(
        "animator", source=client.get_run(ids["baseline"]).info.artifact_uri, run_id=ids["baseline"]
    )
    client.set_registered_model_alias("animator", "production", mv.version)
    return uri, ids, client
