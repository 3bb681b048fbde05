"""MLflow logging: one run per evaluation, written by the driver process only.

Default store: an embedded SQLite file `qa_runs/mlflow.db` under the working folder, artifacts
beside it in `qa_runs/mlartifacts`; `--tracking-uri` or `MLFLOW_TRACKING_URI` selects any other store
or server. The run is created when the evaluation starts and its id is kept in the run folder, so a
resumed evaluation finishes the same MLflow run instead of leaving a dangling one.

Run status: RUNNING from creation until every metric and artifact is logged, then FINISHED; FAILED
(tag `qa_harness.error` holds the reason) when the evaluation stops on an error; KILLED on
SIGTERM/SIGINT. A run killed with `kill -9` stays RUNNING, which the gate refuses; `--resume`
finishes it. Requests to a tracking server are bounded (`HTTP_LIMITS`, overridable by MLflow's own
environment variables): an unreachable server fails in seconds, a silent one in about a minute.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.records import Suite
from qa_harness.runs.meta import RunSummary
from qa_harness.runs.table import ALL, ConditionTable
from qa_harness.suites.conditions import conditions_path

DEFAULT_EXPERIMENT = "qa_harness"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
#: MLflow's defaults (7 retries, backoff factor 2, 120 s per request) retry an unreachable server for
#: minutes; these make a refused connection fail in ~10 s and a silent server in ~70 s (3 x 20 s + backoff).
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
INPUT_TAG_LIMIT = 500  # MLflow's limit on a dataset input tag value
STRATA_ARTIFACT = "suite/strata.json"


def bound_http_requests() -> None:
    """Apply `HTTP_LIMITS` where the user has not set MLflow's variables."""
    for key, value in HTTP_LIMITS.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def tracking_errors(tracking_uri: str) -> Iterator[None]:
    """An unreachable, unwritable or refusing tracking store -> QaHarnessError naming the store (exit 2)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as err:
        raise QaHarnessError(f"tracking store {tracking_uri}: {err.message.splitlines()[0][:400]}") from err
    except OSError as err:
        raise QaHarnessError(f"tracking store {tracking_uri}: {err.filename or ''} {err.strerror or err}") from err


def default_tracking_uri(workdir: Path | None = None) -> str:
    """`MLFLOW_TRACKING_URI` if set, else the embedded store under `workdir` (default: cwd)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{((workdir or Path.cwd()) / 'qa_runs' / 'mlflow.db').resolve()}"


def _client(tracking_uri: str):
    import mlflow
    from mlflow.tracking import MlflowClient

    bound_http_requests()
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri)


def _experiment_id(client, tracking_uri: str, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def metric_key(metric: str, axis: str = ALL, value: str = ALL, stat: str = "mean") -> str:
    """'ssim' overall mean, 'ssim/p10' another overall stat, 'ssim/pose_extreme' a condition's mean."""
    parts = [metric]
    if axis != ALL:
        parts.append(_UNSAFE.sub("_", f"{axis}_{value}"))
    if stat != "mean":
        parts.append(stat)
    return "/".join(_UNSAFE.sub("_", p) for p in parts)


def unscored_key(metric: str, reason: str) -> str:
    """'unscored/aed/no_face_found_in_the_output_by_the_identity_backend': frames a metric could not score."""
    return "/".join(("unscored", _UNSAFE.sub("_", metric), _UNSAFE.sub("_", reason).strip("_")[:160]))


def metric_option_params(names: tuple[str, ...], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The options in effect for each metric run (`Registry.options_in_effect`: builder defaults, the catalog's,
    a suite's `metric_options`), flattened to params: `metric_options.akd.landmarks` = `mediapipe`; a nested
    mapping adds levels. A suite's options for a metric the run does not score are not in effect: not logged."""
    from qa_harness.catalog import METRICS

    params: dict[str, Any] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, item in sorted(value.items(), key=lambda kv: str(kv[0])):
                flatten(f"{prefix}.{key}", item)
        else:
            params[prefix] = value

    for name in names:
        flatten(f"metric_options.{name}", METRICS.options_in_effect(name, overrides.get(name)))
    return {key: value for key, value in params.items() if value != {}}  # a metric with no options adds nothing


def start_run(
    *,
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    suite: Suite,
    resume_run_id: str | None,
    parent_run_id: str | None = None,
) -> str:
    """Create the evaluation run (params, tags, suite dataset), or reopen `resume_run_id`.

    `parent_run_id` nests the run under another (MLflow's `mlflow.parentRunId` tag), as a matrix does.
    """
    import mlflow

    client = _client(tracking_uri)
    if resume_run_id:
        _reopen(client, resume_run_id)
        return resume_run_id
    tags = {"qa_harness.kind": "evaluation", "qa_harness.suite": suite.name}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(_experiment_id(client, tracking_uri, experiment), run_name=run_name, tags=tags)
    run_id = run.info.run_id
    _log_params(client, run_id, params)
    table = pd.DataFrame(
        [
            {
                "pair_id": p.id,
                "protocol": p.protocol,
                "source": p.source.id,
                "driving": p.driving.id,
                "driving_sha256": p.driving.sha256,
                **{f"tag.{k}": v for k, v in p.conditions.items()},
            }
            for p in suite.pairs
        ]
    )
    with warnings.catch_warnings():  # a local path matches two equivalent source types; harmless
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(table, source=str(suite.path), name=suite.name, digest=suite.version)
    strata = strata_counts(suite)
    text = json.dumps(strata)  # a long one (many strata) only in the artifact: tags hold 500 characters
    tag = text if len(text) <= INPUT_TAG_LIMIT else f"artifact:{STRATA_ARTIFACT}"
    from mlflow.entities import DatasetInput, InputTag

    # the client API, not `with mlflow.start_run()`: leaving that block would end the run (FINISHED)
    client.log_inputs(
        run_id,
        [
            DatasetInput(
                dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "evaluation"), InputTag("strata", tag)]
            )
        ],
    )
    client.log_dict(run_id, strata, STRATA_ARTIFACT)
    client.log_artifact(run_id, str(suite.path), artifact_path="suite")  # the manifest, with its bins
    if conditions_path(suite.path).exists():
        client.log_artifact(run_id, str(conditions_path(suite.path)), artifact_path="suite")
    return run_id


def _reopen(client, run_id: str) -> None:
    """RUNNING again, without the error of the attempt that stopped (a resumed run finishes the same run)."""
    client.update_run(run_id, status="RUNNING")
    if "qa_harness.error" in client.get_run(run_id).data.tags:
        client.delete_tag(run_id, "qa_harness.error")


def strata_counts(suite: Suite) -> dict[str, dict[str, int]]:
    """Pairs per condition value, per axis (clip-level tags): the suite's strata."""
    counts: dict[str, dict[str, int]] = {}
    for pair in suite.pairs:
        for axis, value in pair.conditions.items():
            counts.setdefault(axis, {}).setdefault(value, 0)
            counts[axis][value] += 1
    return {axis: dict(sorted(values.items())) for axis, values in sorted(counts.items())}


def finish_run(
    *,
    tracking_uri: str,
    run_id: str,
    table: ConditionTable,
    summary: RunSummary,
    files: list[tuple[str, Path]],
) -> None:
    """Log aggregate metrics and the run folder's files (`files`: artifact dir, path), then finish the run."""
    client = _client(tracking_uri)
    metrics = {}
    for row in table:
        stats = ("mean", "median", "p10", "p90") if row.axis == ALL else ("mean",)
        for stat in stats:
            value = getattr(row, stat)
            if not math.isnan(value):
                metrics[metric_key(row.metric, row.axis, row.value, stat)] = float(value)
    _log_params(client, run_id, dict(summary.metric_params))  # e.g. where LPIPS's weights came from
    metrics.update({k: float(v) for k, v in summary.counts.items()})
    metrics.update({f"perf/{k}": float(v) for k, v in summary.perf.items() if v is not None})
    metrics.update(
        {unscored_key(m, reason): float(n) for m, reasons in summary.unscored.items() for reason, n in reasons.items()}
    )
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    entities = [Metric(k, v, now, 0) for k, v in sorted(metrics.items())]
    for start in range(0, len(entities), 500):
        client.log_batch(run_id, metrics=entities[start : start + 500])
    for artifact_dir, path in files:
        log = client.log_artifacts if path.is_dir() else client.log_artifact
        log(run_id, str(path), artifact_path=artifact_dir or None)
    failed = summary.counts["clips/failed"]
    client.set_tag(run_id, "qa_harness.failed_clips", str(int(failed)))
    client.set_terminated(run_id, "FINISHED")


def mark_ended(*, tracking_uri: str, run_id: str, status: str, reason: str) -> None:
    """Close a run that stopped before finishing: FAILED on an error, KILLED on a signal; the run folder
    can still be resumed, which reopens the run."""
    client = _client(tracking_uri)
    client.set_tag(run_id, "qa_harness.error", reason[:5000])
    client.set_terminated(run_id, status)


def end_overwritten(*, tracking_uri: str, run_id: str, out_dir: Path, by: str = "") -> None:
    """The MLflow run of a folder that `--overwrite` replaces: KILLED if it never ended (`kill -9` leaves a
    run RUNNING), tagged `qa_harness.overwritten` (when, which folder) and, once known, `..._by` (the new run).
    A run the store no longer has (deleted) is left alone."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return
    if by:
        client.set_tag(run_id, "qa_harness.overwritten_by", by)
        return
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    client.set_tag(run_id, "qa_harness.overwritten", f"replaced by evaluate --overwrite of {out_dir} at {when}")
    if run.info.status == "RUNNING":
        client.set_terminated(run_id, "KILLED")


def end_state(err: BaseException) -> dict[str, str]:
    """`mark_ended`'s status and reason for the exception that stopped a run: a signal KILLED, else FAILED."""
    if isinstance(err, KeyboardInterrupt):
        from qa_harness.exitcodes import interrupted_reason

        return {"status": "KILLED", "reason": f"{type(err).__name__}: {interrupted_reason(err)}"}
    return {"status": "FAILED", "reason": f"{type(err).__name__}: {err}".rstrip(": ")}


def start_group_run(
    *,
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    resume_run_id: str | None,
) -> str:
    """Create the parent run that groups several evaluation runs (a matrix), or reopen `resume_run_id`."""
    client = _client(tracking_uri)
    if resume_run_id:
        _reopen(client, resume_run_id)
        return resume_run_id
    run = client.create_run(
        _experiment_id(client, tracking_uri, experiment), run_name=run_name, tags={"qa_harness.kind": "matrix"}
    )
    _log_params(client, run.info.run_id, params)
    return run.info.run_id


def _log_params(client, run_id: str, params: dict[str, Any]) -> None:
    """Params in batches (one store round trip per 100, MLflow's limit), None logged as ''."""
    from mlflow.entities import Param

    entities = [Param(key, "" if value is None else str(value)) for key, value in params.items()]
    for start in range(0, len(entities), 100):
        client.log_batch(run_id, params=entities[start : start + 100])


def finish_group_run(*, tracking_uri: str, run_id: str, files: list[Path]) -> None:
    """Log `files` (the children's comparison table, the matrix file) to the parent run and finish it."""
    client = _client(tracking_uri)
    for path in files:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
