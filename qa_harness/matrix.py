"""`qa-harness evaluate --matrix FILE`: several models or checkpoints over one suite, in one Ray job.

```yaml
# paths are relative to this file
name: finetune-sweep        # the parent MLflow run (default: the file name)
suite: ../suites/demo.yaml
experiment: qa_harness      # optional
seed: 0                     # optional: batch_size, device, metrics too; shared by every run
executor: {address: auto, workers: 4, gpus_per_worker: 1}   # optional; CLI flags override
runs:
  - {name: base, model: mrfa, checkpoint: ckpt/base.pth}
  - {name: ft-1000, model: mrfa, checkpoint: ckpt/ft_1000.pth, options: {iterations: 3}}
```
Each run is an ordinary evaluation (its own run folder `<out>/<name>` and MLflow run), nested under
one parent run (`mlflow.parentRunId`) that holds `comparison.csv` (every run's overall means; also in
`<out>`) and the matrix file. Runs go one after another on one Ray connection, each spread over all its workers; the
seed is shared, so the runs differ only in the model. `--resume` continues every run and the parent;
`--pair-timeout` applies to every run. One matrix at a time per `<out>` (an OS lock, as for a run folder).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from qa_harness import tracking
from qa_harness.catalog import METRICS
from qa_harness.errors import storage_errors
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.lock import RunLock
from qa_harness.records import RunResult
from qa_harness.registry import UnknownNameError
from qa_harness.suites.manifest import load_suite
from qa_harness.yamlfile import YamlDoc, check_keys, load_yaml

TOP_REQUIRED = {"suite", "runs"}
TOP_OPTIONAL = {"name", "experiment", "seed", "batch_size", "device", "metrics", "executor"}
RUN_OPTIONAL = {"name", "checkpoint", "options"}
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # also the name of the run's folder
#: Executor options a matrix file may set, with the type each must have.
EXECUTOR_KEYS: dict[str, type | tuple[type, ...]] = {
    "address": str,
    "workers": int,
    "gpus_per_worker": (int, float),
    "cpus_per_worker": (int, float),
    "max_attempts": int,
    "in_flight": int,
}


@dataclass(frozen=True)
class MatrixRun:
    """One model or checkpoint of a matrix."""

    name: str
    model: str
    checkpoint: Path | None = None
    options: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Matrix:
    """A validated matrix file: the evaluation every run shares, and the runs."""

    path: Path
    name: str
    base: EvalConfig  # suite, seed, batch size, device, metrics, experiment; model is filled per run
    executor_options: Mapping[str, Any]
    runs: tuple[MatrixRun, ...]


def _file(doc: YamlDoc, keypath: tuple, value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(keypath, f"expected a file path, got {value!r}")
    path = (doc.path.parent / value).resolve()
    if not path.is_file():
        raise doc.error(keypath, f"file not found: {path}")
    return path


def _typed(doc: YamlDoc, keypath: tuple, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise doc.error(keypath, f"expected {what}, got {value!r}")
    return value


def _run(doc: YamlDoc, i: int, entry: Any) -> MatrixRun:
    check_keys(doc, ("runs", i), entry, required={"model"}, optional=RUN_OPTIONAL)
    model = _typed(doc, ("runs", i, "model"), entry["model"], str, "a model name or package.module:factory")
    options = entry.get("options", {})
    _typed(doc, ("runs", i, "options"), options, dict, "a mapping of model options")
    checkpoint = _file(doc, ("runs", i, "checkpoint"), entry["checkpoint"]) if "checkpoint" in entry else None
    name = _typed(
        doc, ("runs", i, "name"), entry.get("name", re.sub(r"[^A-Za-z0-9_.-]", "_", model)), str, "a run name"
    )
    if not RUN_NAME.match(name):
        raise doc.error(("runs", i, "name"), f"run name '{name}' must match {RUN_NAME.pattern} (it names a folder)")
    return MatrixRun(name=name, model=model, checkpoint=checkpoint, options=options)


def load_matrix(path: Path) -> Matrix:
    """Read and validate a matrix file; every error names the file, line and key."""
    doc = load_yaml(Path(path))
    data = doc.data
    check_keys(doc, (), data, required=TOP_REQUIRED, optional=TOP_OPTIONAL)
    runs = _typed(doc, ("runs",), data["runs"], list, "a list of runs")
    if not runs:
        raise doc.error(("runs",), "expected at least one run")
    parsed = tuple(_run(doc, i, entry) for i, entry in enumerate(runs))
    seen: dict[str, int] = {}
    for i, run in enumerate(parsed):
        if run.name in seen:
            raise doc.error(
                ("runs", i),
                f"run name '{run.name}' is used twice (also runs[{seen[run.name]}]); give each run a distinct 'name'",
            )
        seen[run.name] = i
    metrics = tuple(_typed(doc, ("metrics",), data.get("metrics", []), list, "a list of metric names"))
    for i, name in enumerate(metrics):
        try:
            METRICS.get(name)
        except UnknownNameError as err:
            raise doc.error(("metrics", i), str(err)) from err
    executor = _typed(doc, ("executor",), data.get("executor", {}), dict, "a mapping of executor options")
    check_keys(doc, ("executor",), executor, required=set(), optional=set(EXECUTOR_KEYS))
    for key, value in executor.items():
        _typed(doc, ("executor", key), value, EXECUTOR_KEYS[key], "a number" if key != "address" else "a string")
    base = EvalConfig(
        suite=_file(doc, ("suite",), data["suite"]),
        model="",
        seed=_typed(doc, ("seed",), data.get("seed", 0), int, "an integer"),
        batch_size=_typed(doc, ("batch_size",), data.get("batch_size", 16), int, "an integer"),
        device=_typed(doc, ("device",), data.get("device", "auto"), str, "a device name"),
        metrics=metrics,
        experiment=_typed(doc, ("experiment",), data.get("experiment", tracking.DEFAULT_EXPERIMENT), str, "a name"),
    )
    name = _typed(doc, ("name",), data.get("name", doc.path.stem), str, "a name")
    return Matrix(path=doc.path, name=name, base=base, executor_options=executor, runs=parsed)


@dataclass(frozen=True)
class MatrixResult:
    """The parent MLflow run and each run's result, by run name."""

    parent_run_id: str
    results: Mapping[str, RunResult]


def _comparison(results: Mapping[str, RunResult], matrix: Matrix) -> pd.DataFrame:
    """One row per run: model, checkpoint, MLflow run id, failed clips and every metric's overall mean."""
    rows = []
    for run in matrix.runs:
        result = results[run.name]
        rows.append(
            {
                "run": run.name,
                "model": run.model,
                "checkpoint": str(run.checkpoint or ""),
                "run_id": result.run_id,
                "clips_failed": len(result.failed),
                **result.table.overall(),
            }
        )
    return pd.DataFrame(rows)


def run_matrix(
    matrix: Matrix,
    *,
    out: Path | None = None,
    tracking_uri: str | None = None,
    executor: str = "ray",
    executor_options: Mapping[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    pair_timeout: float | None = None,
) -> MatrixResult:
    """Evaluate every run of `matrix` under one parent MLflow run; `executor_options` override the file's.

    The matrix folder is locked (`lock.RunLock` on `<out>/.lock`) for the whole matrix, as each run's own
    folder is for that run: a second matrix into the same folder is refused, whatever its mode."""
    out = out or Path("qa_runs") / f"matrix__{matrix.name}"
    lock = RunLock(out.resolve())
    action = "resume it" if resume else "overwrite it" if overwrite else "start a matrix in it"
    with storage_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        lock.acquire(action=action)
    try:
        return _run_matrix_locked(
            matrix, out, tracking_uri, executor, executor_options, resume, overwrite, progress, pair_timeout
        )
    finally:
        lock.release()


def _run_matrix_locked(
    matrix: Matrix,
    out: Path,
    tracking_uri: str | None,
    executor: str,
    executor_options: Mapping[str, Any] | None,
    resume: bool,
    overwrite: bool,
    progress: bool | None,
    pair_timeout: float | None,
) -> MatrixResult:
    options = {**matrix.executor_options, **(executor_options or {})}
    uri = tracking_uri or tracking.default_tracking_uri()
    state_path = out / "matrix.json"
    previous = json.loads(state_path.read_text()) if state_path.exists() else {}
    if overwrite and previous.get("parent_run_id"):  # the replaced parent must not stay RUNNING (kill -9)
        tracking.end_overwritten(tracking_uri=uri, run_id=previous["parent_run_id"], out_dir=out.resolve())
    parent = tracking.start_group_run(
        tracking_uri=uri,
        experiment=matrix.base.experiment,
        run_name=matrix.name,
        params={
            "matrix": matrix.path,
            "suite": matrix.base.suite,
            "seed": matrix.base.seed,
            "runs": ",".join(r.name for r in matrix.runs),
            "executor": executor,
        },
        resume_run_id=previous.get("parent_run_id") if resume else None,
    )
    state_path.write_text(json.dumps({"parent_run_id": parent}))
    session = contextlib.nullcontext()
    if executor == "ray":
        from qa_harness.executors.ray import local_cpus, ray_session

        session = ray_session(
            options.get("address"), num_cpus=local_cpus(options.get("workers"), options.get("cpus_per_worker", 1.0))
        )
    results: dict[str, RunResult] = {}
    try:
        suite = load_suite(matrix.base.suite)  # once for all runs: loading hashes every media file
        with session:
            for run in matrix.runs:
                cfg = replace(
                    matrix.base,
                    model=run.model,
                    checkpoint=run.checkpoint,
                    model_options=run.options or {},
                    out_dir=out / run.name,
                    resume=resume,
                    overwrite=overwrite,
                    tracking_uri=uri,
                    run_name=f"{matrix.name}/{run.name}",
                    executor=executor,
                    executor_options=options if executor == "ray" else {},
                    parent_run_id=parent,
                    progress=progress,
                    pair_timeout=pair_timeout,
                )
                results[run.name] = run_evaluation(cfg, suite=suite)
        comparison = out / "comparison.csv"
        comparison.write_text(_comparison(results, matrix).to_csv(index=False))
        tracking.finish_group_run(tracking_uri=uri, run_id=parent, files=[comparison, matrix.path])
    except BaseException as err:
        tracking.mark_ended(tracking_uri=uri, run_id=parent, **tracking.end_state(err))
        raise
    return MatrixResult(parent_run_id=parent, results=results)
