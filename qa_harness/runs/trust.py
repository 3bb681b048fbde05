"""Whether a run may be judged: it must be FINISHED and hold every record its summary counted.

A RUNNING run (live, or killed with kill -9), a FAILED or a KILLED one may hold some pairs only, and a
verdict on part of a suite is a lie; so is one on records that lost rows on the way. Also: a run
folder (`evaluate --out`) names its MLflow run through its run.json.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.runs.meta import RunMeta, RunSummary

_HINTS = {
    "RUNNING": "it is still running, or its process died (continue it with evaluate --resume)",
    "FAILED": "it stopped on an error (fix it, then evaluate --resume)",
    "KILLED": "it was interrupted (continue it with evaluate --resume)",
}


def run_folder_ref(ref: str) -> str:
    """A run folder -> the MLflow run id its run.json holds; any other reference unchanged."""
    meta_path = Path(ref) / "run.json"
    if ref.startswith("models:/") or not meta_path.is_file():
        return ref
    run_id = RunMeta.load(meta_path).mlflow_run_id
    if not run_id:
        raise QaHarnessError(f"{meta_path}: the run never reached MLflow (no mlflow_run_id); run evaluate --resume")
    return run_id


def check_finished(run, ref: str) -> None:
    """Raise unless the MLflow run's status is FINISHED (the error names the status, the reason and the fix)."""
    status = run.info.status
    if status == "FINISHED":
        return
    reason = run.data.tags.get("qa_harness.error", "")
    raise QaHarnessError(
        f"run {run.info.run_id} ({ref}) is {status}, not FINISHED: {_HINTS.get(status, '')}"
        + (f"; error: {reason}" if reason else "")
    )


def check_complete(
    run_id: str, ref: str, frames: pd.DataFrame, clips: pd.DataFrame | None, summary: RunSummary | None
) -> None:
    """Raise when the records hold fewer (or more) frames or pairs than the run's summary counted."""
    counts = summary.counts if summary is not None else {}
    found = {"frames/total": len(frames), "clips/total": None if clips is None else len(clips)}
    for key, have in found.items():
        want = counts.get(key)
        if want is not None and have is not None and int(want) != have:
            raise QaHarnessError(
                f"run {run_id} ({ref}): its records are incomplete: {have} rows where its "
                f"summary counted {key} = {int(want)}"
            )
