"""`qa-harness gate` rejects, before any check, a selector naming a condition or value that neither the
vocabulary (suites/bins.yaml) nor the runs' records have: exit 2 naming policy file:line, with a
suggestion, instead of a check skipped as "0 clips"."""

from __future__ import annotations

import pytest
import yaml

from qa_harness.cli import main


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        ("yaw=extrme", "'extrme' is not a value of 'yaw'; did you mean 'extreme'?"),
        ("pose=extrem", "'extrem' is not a value of 'pose'; did you mean 'extreme'?"),  # records' own tag
        ("lightng=dim", "unknown condition 'lightng'. Did you mean 'lighting'?"),
    ],
)
def test_gate_exits_2_on_a_selector_outside_the_vocabulary(store, tmp_path, capsys, selector, problem):
    uri, ids, _ = store
    policy = tmp_path / "p.yaml"
    rule = {"name": "ssim-mean", "metric": "ssim", "conditions": ["all", selector], "max_regression": 0.01}
    policy.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}, sort_keys=False))
    args = ["--candidate", ids["good"], "--baseline", ids["baseline"], "--no-log"]
    code = main(["gate", "--tracking-uri", uri, "--policy", str(policy), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{policy}:7: rules[0].conditions[1] (rule 'ssim-mean'): '{selector}': {problem}" in err, err


def test_gate_accepts_vocabulary_values_the_runs_lack(store, tmp_path, capsys):
    """`yaw=extreme` is a valid condition even where the runs (tagged `pose`) have no such frames:
    the gate then reports it as not checked, which is gate's business, not a policy error."""
    uri, ids, _ = store
    policy = tmp_path / "p.yaml"
    rule = {"name": "ssim-mean", "metric": "ssim", "conditions": ["all", "yaw=extreme"], "max_regression": 0.01}
    policy.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}, sort_keys=False))
    args = ["--candidate", ids["good"], "--baseline", ids["baseline"], "--no-log"]
    assert main(["gate", "--tracking-uri", uri, "--policy", str(policy), *args]) == 0
    assert "yaw=extreme" in capsys.readouterr().out


def test_each_lists_the_vocabulary_values_no_clip_has(store, tmp_path, capsys):
    """`each` on runs tagged lighting dim/normal: bright and dark (values of the bins' lighting tag) have no
    clip, and are listed NOT GATED (terminal, JUnit) instead of being left out; `insufficient: fail` fails
    them."""
    uri, ids, _ = store
    policy, junit = tmp_path / "p.yaml", tmp_path / "gate.xml"
    rule = {"name": "ssim-mean", "metric": "ssim", "conditions": ["each"], "max_regression": 0.01}
    policy.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}, sort_keys=False))
    args = ["--candidate", ids["good"], "--baseline", ids["baseline"], "--no-log", "--junit", str(junit)]
    assert main(["gate", "--tracking-uri", uri, "--policy", str(policy), *args]) == 0
    out = capsys.readouterr().out
    for value in ("bright", "dark"):
        assert f"NOT GATED: ssim-mean[lighting={value}]: no clip has lighting={value} (0 clips, needs 5)" in out
        assert f'name="lighting={value}"' in junit.read_text()
    assert "lighting=unknown" not in out and "ssim-mean[lighting=dim]" not in out.split("NOT GATED:", 1)[1]
    policy.write_text(yaml.safe_dump({"version": 1, "insufficient": "fail", "rules": [rule]}, sort_keys=False))
    assert main(["gate", "--tracking-uri", uri, "--policy", str(policy), *args]) == 1
    assert "no clip has lighting=bright" in capsys.readouterr().out
