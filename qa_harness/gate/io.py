"""Write gate verdicts back to MLflow and promote a passing candidate (runs are read by `runs.mlflow_io`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from qa_harness.gate.output import render_junit, render_markdown, result_to_json


def log_gate_result(client, run_id: str, result, *, policy_path: Path, baseline_ref: str | None) -> None:
    """Tags `qa_harness.gate.*`, metric `gate/failed_checks`, artifacts `gate/{result.json,junit.xml,...}`."""
    client.set_tag(run_id, "qa_harness.gate.verdict", result.verdict)
    client.set_tag(run_id, "qa_harness.gate.policy", result.policy)
    client.set_tag(run_id, "qa_harness.gate.baseline", baseline_ref or "")
    client.set_tag(run_id, "qa_harness.gate.baseline_run", result.baseline or "")
    client.log_metric(run_id, "gate/failed_checks", float(len(result.failures)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "result.json").write_text(result_to_json(result), encoding="utf-8")
        (folder / "junit.xml").write_text(render_junit(result), encoding="utf-8")
        (folder / "summary.md").write_text(render_markdown(result), encoding="utf-8")
        (folder / "policy.yaml").write_bytes(Path(policy_path).read_bytes())
        for path in sorted(folder.iterdir()):
            client.log_artifact(run_id, str(path), artifact_path="gate")


def promote(client, *, model_name: str, alias: str, run_id: str) -> str:
    """Point `model_name@alias` at the candidate's model version (registered now if it has none)."""
    versions = client.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if versions:
        version = max(versions, key=lambda v: int(v.version)).version
    else:
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(model_name)
        except MlflowException:
            client.create_registered_model(model_name)
        source = client.get_run(run_id).info.artifact_uri
        version = client.create_model_version(model_name, source=source, run_id=run_id).version
    client.set_registered_model_alias(model_name, alias, version)
    return str(version)
