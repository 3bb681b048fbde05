"""Read evaluation runs from MLflow as `RunRecords` (for the gate, compare and the report alike).

A run is named by its run id, its run folder (`evaluate --out`), or by a registered model
version: `models:/<name>@<alias>` (the version the alias points at) or `models:/<name>/<version>`;
either resolves to the version's source run. The run layout read is the one `qa-harness evaluate`
logs: params `suite`, `suite_version`, artifacts `records/frames.parquet`, `records/clips.parquet`
and `summary.json` (each metric column's direction), metrics `perf/*`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.runs.meta import RunSummary
from qa_harness.runs.records import RunRecords
from qa_harness.runs.trust import check_complete, check_finished, run_folder_ref

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
    check_finished(run, ref)
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
            summary_path = Path(client.download_artifacts(run_id, SUMMARY_ARTIFACT, tmp))
        except (MlflowException, OSError):
            summary = None  # not logged (an interrupted run): directions are then unknown, and say so when asked
        else:
            summary = RunSummary.from_json(
                summary_path.read_text(encoding="utf-8"), f"run {run_id} ({ref}), artifact {SUMMARY_ARTIFACT}"
            )
    check_complete(run_id, ref, frames, clips, summary)
    return RunRecords(
        run_id=run_id,
        name=run.info.run_name or run_id,
        suite=params.get("suite", ""),
        suite_version=params.get("suite_version", ""),
        frames=frames,
        clips=clips,
        params=params,
        metrics=dict(run.data.metrics),
        higher_is_better=summary.higher_is_better if summary is not None else {},
    )
