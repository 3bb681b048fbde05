"""Read evaluation runs from MLflow and write gate verdicts back.

A run is named by its run id, its run folder (`evaluate --out`, whose run.json holds the id), or by a
registered model version: `models:/<name>@<alias>` (the version the alias points at) or
`models:/<name>/<version>`; either resolves to the version's source run. The run layout read is the
one `qa-harness evaluate` logs: params `suite`, `suite_version`, artifacts `records/frames.parquet`,
`records/clips.parquet` and `summary.json` (each metric column's
direction), metrics `perf/*`.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.gate.output import render_junit, render_markdown, result_to_json
from qa_harness.gate.paired import RunRecords

FRAMES_ARTIFACT = "records/frames.parquet"
CLIPS_ARTIFACT = "records/clips.parquet"
SUMMARY_ARTIFACT = "summary.json"
_MODEL_URI = re.compile(r"^models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def client_for(tracking_uri: str | None):
    """An MlflowClient on `tracking_uri` (default: `$MLFLOW_TRACKING_URI`, else ./qa_runs/mlflow.db).

    Artifact download progress bars are off (unless the user set the variable): they would
    interleave with the gate table in CI logs.
    """
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from qa_harness.tracking import default_tracking_uri

    return MlflowClient(tracking_uri or default_tracking_uri())


def parse_model_uri(ref: str) -> tuple[str, str | None, str | None] | None:
    """`models:/name@alias` -> (name, alias, None); `models:/name/3` -> (name, None, '3'); a run id -> None."""
    if not ref.startswith("models:/"):
        return None
    match = _MODEL_URI.match(ref)
    if not match:
        raise QaHarnessError(f"{ref!r}: expected models:/<name>@<alias> or models:/<name>/<version>")
    return match.group("name"), match.group("alias"), match.group("version")


def run_folder_ref(ref: str) -> str:
    """A run folder (`evaluate --out`) -> the MLflow run id its run.json holds; any other ref unchanged."""
    meta = Path(ref) / "run.json"
    if not ref.startswith("models:/") and meta.is_file():
        try:
            run_id = json.loads(meta.read_text()).get("mlflow_run_id")
        except ValueError as err:
            raise QaHarnessError(f"{meta}: not a qa-harness run.json: {err}") from err
        if not run_id:
            raise QaHarnessError(f"{meta}: the run never reached MLflow (no mlflow_run_id); run evaluate --resume")
        return run_id
    return ref


def resolve_run(client, ref: str):
    """The MLflow run of a run id or a `models:/` reference; errors say what was not found."""
    from mlflow.exceptions import MlflowException

    ref = run_folder_ref(ref)
    parsed = parse_model_uri(ref)
    try:
        if parsed is None:
            return client.get_run(ref)
        name, alias, version = parsed
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException as err:
        raise QaHarnessError(f"{ref!r} not found in the tracking store {client.tracking_uri}: {err.message}") from err
    if not mv.run_id:
        raise QaHarnessError(f"{ref!r} (version {mv.version}) has no source run to read records from")
    return client.get_run(mv.run_id)


def load_run(client, ref: str) -> RunRecords:
    """The records, params and metrics of an evaluation run."""
    from mlflow.exceptions import MlflowException

    run = resolve_run(client, ref)
    run_id = run.info.run_id
    _check_finished(run, ref)
    params = dict(run.data.params)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            frames = pd.read_parquet(client.download_artifacts(run_id, FRAMES_ARTIFACT, tmp))
        except (MlflowException, OSError) as err:
            raise QaHarnessError(
                f"run {run_id} ({ref}) has no {FRAMES_ARTIFACT} artifact: is it a qa-harness evaluation run?"
            ) from err
        try:
            clips = pd.read_parquet(client.download_artifacts(run_id, CLIPS_ARTIFACT, tmp))
        except (MlflowException, OSError):
            clips = None
        try:
            summary = json.loads(Path(client.download_artifacts(run_id, SUMMARY_ARTIFACT, tmp)).read_text())
        except (MlflowException, OSError, ValueError):
            summary = {}
    _check_complete(run_id, ref, frames, clips, summary)
    return RunRecords(
        run_id=run_id,
        name=run.info.run_name or run_id,
        suite=params.get("suite", ""),
        suite_version=params.get("suite_version", ""),
        frames=frames,
        clips=clips,
        params=params,
        metrics=dict(run.data.metrics),
        higher_is_better=summary.get("higher_is_better", {}),
    )


def _check_finished(run, ref: str) -> None:
    """Only a FINISHED run has all its records: a RUNNING (live, or killed with kill -9), FAILED or KILLED one
    may hold some pairs only, and a verdict on part of a suite is a lie."""
    status = run.info.status
    if status == "FINISHED":
        return
    reason = run.data.tags.get("qa_harness.error", "")
    hint = {"RUNNING": "it is still running, or its process died (continue it with evaluate --resume)",
            "FAILED": "it stopped on an error (fix it, then evaluate --resume)",
            "KILLED": "it was interrupted (continue it with evaluate --resume)"}.get(status, "")
    raise QaHarnessError(f"run {run.info.run_id} ({ref}) is {status}, not FINISHED: {hint}"
                         + (f"; error: {reason}" if reason else ""))


def _check_complete(run_id: str, ref: str, frames: pd.DataFrame, clips: pd.DataFrame | None, summary: dict) -> None:
    """The records hold as many frames and pairs as the run's summary counted (nothing lost on the way)."""
    counts = summary.get("counts", {})
    found = {"frames/total": len(frames), "clips/total": None if clips is None else len(clips)}
    for key, have in found.items():
        want = counts.get(key)
        if want is not None and have is not None and int(want) != have:
            raise QaHarnessError(f"run {run_id} ({ref}): its records are incomplete: {have} rows where its "
                                 f"summary counted {key} = {int(want)}")


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
