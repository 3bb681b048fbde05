"""The default policy's clip-level rules (ear_mar correlations and event F1) fail a frozen face.

Values are ear_mar's clip scores measured on the six demo clips (40 frames, 256 px, MediaPipe) for the
ground truth (baseline), its JPEG q90 re-encoding (a clean candidate) and its first frame frozen
(`identity`); NaN where a clip has no event of that kind. See the comments in gates/default.yaml.
"""

from __future__ import annotations

import math

import pandas as pd

from qa_harness.gate.evaluate import evaluate_gate
from qa_harness.gate.policy import load_policy
from qa_harness.runs.records import RunRecords
from tests.helpers.media import REPO

NAN = math.nan
CLIPS = ("d20", "tpsmm_driving", "vrt_face5", "lp_d11", "d12", "lp_s32")
MEASURED = {  # metric -> per clip (CLIPS order): ground truth, JPEG q90, frozen
    "ear_corr": ([1.0] * 6, [0.761, 0.994, 0.996, 0.996, 0.966, 0.996], [0.0] * 6),
    "mar_corr": ([1.0] * 6, [0.992, 0.996, 0.993, 0.998, 0.999, 0.989], [0.0] * 6),
    "blink_f1": ([NAN, 1, 1, NAN, NAN, 1], [NAN, 1, 1, NAN, NAN, 0.667], [NAN, 0, 0, NAN, NAN, 0]),
    "mouth_open_f1": ([1, 1, 1, 1, 1, NAN], [0.667, 1, 1, 1, 1, NAN], [0, 0, 0, 0, 0, NAN]),
}
RULES = {
    "ear_corr": "ear-corr-mean",
    "mar_corr": "mar-corr-mean",
    "blink_f1": "blink-f1-mean",
    "mouth_open_f1": "mouth-open-f1-mean",
}


def _run(name: str, column: int) -> RunRecords:
    frames = pd.DataFrame({"run_id": name, "pair_id": list(CLIPS), "protocol": "reconstruction", "frame": 0})
    clips = pd.DataFrame(
        {
            "pair_id": list(CLIPS),
            "status": "ok",
            "frames": 40,
            "seconds": 1.0,
            "error": "",
            **{f"clip_metric:{m}": v[column] for m, v in MEASURED.items()},
        }
    )
    return RunRecords(
        run_id=name,
        name=name,
        suite="demo",
        suite_version="v",
        frames=frames,
        clips=clips,
        higher_is_better=dict.fromkeys(MEASURED, True),
    )


def _statuses(candidate: RunRecords, baseline: RunRecords) -> dict[str, str]:
    policy = load_policy(REPO / "gates" / "default.yaml")
    result = evaluate_gate(policy, candidate, baseline)
    return {c.rule: c.status for c in result.checks if c.rule in RULES.values()}


def test_a_frozen_face_fails_the_clip_level_rules_and_a_clean_candidate_passes() -> None:
    baseline = _run("truth", 0)
    clean = _statuses(_run("jpeg", 1), baseline)
    frozen = _statuses(_run("frozen", 2), baseline)
    assert clean == dict.fromkeys(RULES.values(), "pass")
    assert frozen == dict.fromkeys(RULES.values(), "fail")


def test_compare_marks_frozen_worse_on_clip_level_scores_and_an_equal_score_is_no_difference() -> None:
    """A delta of exactly 0 on every clip (no spread) is no difference; it read `worse` (p doubled from 1 to 0)."""
    from qa_harness.compare import SAME, WORSE, CompareSettings, compare_runs

    table = compare_runs([_run("truth", 0), _run("frozen", 2), _run("again", 0)], CompareSettings(conditions=("all",)))
    verdict = table.set_index(["run_name", "metric"])["verdict"]
    assert [verdict[("frozen", m)] for m in MEASURED] == [WORSE] * 4
    assert [verdict[("again", m)] for m in MEASURED] == [SAME] * 4
    assert table.loc[table["run_name"] == "again", "p"].eq(1.0).all()
