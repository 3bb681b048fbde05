"""`qa-harness gate` end to end on a real MLflow sqlite store: runs by id and by models:/name@alias,
exit codes, JUnit/Markdown files, verdict logged to the candidate, --promote moving the alias."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qa_harness.cli import main
from tests.gate.gate_runs import log_run

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "gates" / "default.yaml")


def _gate(uri, *args):
    return main(["gate", "--tracking-uri", uri, "--policy", POLICY, *args])


def test_regressed_candidate_fails_by_alias_and_alias_stays(store, tmp_path, capsys):
    uri, ids, client = store
    production = client.get_model_version_by_alias("animator", "production").run_id
    code = _gate(
        uri,
        "--candidate",
        ids["blur"],
        "--baseline",
        "models:/animator@production",
        "--junit",
        str(tmp_path / "j.xml"),
        "--markdown",
        str(tmp_path / "s.md"),
        "--promote",
        "production",
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL ssim-mean[all]" in out and f"vs baseline {production}" in out
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) > 0
    assert "**FAIL**" in (tmp_path / "s.md").read_text()
    assert client.get_model_version_by_alias("animator", "production").run_id == production
    run = client.get_run(ids["blur"])
    assert run.data.tags["qa_harness.gate.verdict"] == "fail"
    assert run.data.tags["qa_harness.gate.baseline_run"] == production
    assert run.data.metrics["gate/failed_checks"] > 0
    logged = {a.path for a in client.list_artifacts(ids["blur"], "gate")}
    assert logged == {"gate/junit.xml", "gate/summary.md", "gate/result.json", "gate/policy.yaml"}


def test_good_candidate_passes_by_run_id_and_promote_moves_alias(store, capsys):
    uri, ids, client = store
    assert _gate(uri, "--candidate", ids["good"], "--baseline", ids["baseline"]) == 0
    assert "gate default: PASS" in capsys.readouterr().out
    assert client.get_run(ids["good"]).data.tags["qa_harness.gate.verdict"] == "pass"
    assert (
        _gate(uri, "--candidate", ids["good"], "--baseline", "models:/animator@production", "--promote", "production")
        == 0
    )
    assert client.get_model_version_by_alias("animator", "production").run_id == ids["good"]
    # the next gate against the alias now compares with the promoted run
    code = _gate(uri, "--candidate", ids["baseline"], "--baseline", "models:/animator@production", "--no-log")
    assert code == 0 and f"vs baseline {ids['good']}" in capsys.readouterr().out


def test_errors_exit_2_with_message(store, tmp_path, capsys, baseline_run):
    uri, ids, client = store
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - {metric: ssim, aggregate: p50, max_regression: 0.01}\n")
    assert _gate(uri, "--candidate", ids["good"], "--baseline", ids["baseline"], "--policy", str(bad)) == 2
    assert f"{bad}:3: rules[0].aggregate: 'p50' is not one of" in capsys.readouterr().err
    assert _gate(uri, "--candidate", "0123abcd", "--baseline", ids["baseline"]) == 2
    assert "'0123abcd' not found in the tracking store" in capsys.readouterr().err
    assert _gate(uri, "--candidate", ids["good"], "--baseline", "models:/animator@nope") == 2
    assert "'models:/animator@nope' not found" in capsys.readouterr().err
    assert _gate(uri, "--candidate", ids["good"], "--promote", "production") == 2
    assert "--promote needs --model-name" in capsys.readouterr().err
    assert _gate(uri, "--candidate", ids["good"], "--no-log") == 2  # the default policy is relative only
    assert "without --baseline nothing would be checked" in capsys.readouterr().err
    starved = tmp_path / "starved.yaml"
    starved.write_text("version: 1\nmin_clips: 1000\nrules:\n  - {metric: ssim, aggregate: p10, max_regression: 0.1}\n")
    args = ["--candidate", ids["good"], "--baseline", ids["baseline"], "--policy", str(starved)]
    assert main(["gate", "--tracking-uri", uri, *args]) == 2  # every check skipped: no verdict, not a pass
    assert "no rule of" in capsys.readouterr().err
    other = log_run(
        uri, baseline_run.__class__(**{**baseline_run.__dict__, "suite_version": "v-other"}), tmp_path / "o"
    )
    assert _gate(uri, "--candidate", other, "--baseline", ids["baseline"], "--no-log") == 2
    assert "different suites" in capsys.readouterr().err
    assert _gate(uri, "--candidate", other, "--baseline", ids["baseline"], "--no-log", "--allow-suite-mismatch") == 0
    blind = log_run(uri, dataclasses.replace(baseline_run, higher_is_better={}), tmp_path / "blind")
    assert _gate(uri, "--candidate", blind, "--baseline", ids["baseline"], "--no-log") == 2
    assert f"run {blind} does not record whether higher or lower 'ssim' is better" in capsys.readouterr().err
    assert main(["report", blind, "--out", str(tmp_path / "r.html"), "--no-log", "--tracking-uri", uri]) == 2
    assert "summary.json artifact, written by `qa-harness evaluate`" in capsys.readouterr().err


@pytest.mark.slow  # subprocess
def test_malformed_policy_exits_2_in_a_real_process(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - {metric: ssim, max_regresion: 0.01}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_harness.cli",
            "gate",
            "--candidate",
            "x",
            "--policy",
            str(bad),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'none.db'}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2, result.stderr
    assert f"{bad}:3: rules[0].max_regresion: unknown key 'max_regresion'. Did you mean 'max_regression'?" in (
        result.stderr
    )
    assert not (tmp_path / "none.db").exists()  # the policy is validated before any store is touched
