"""Matrix files and executor flags, checked before any work: located errors, clear messages; no Ray needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qa_harness.errors import ConfigError
from qa_harness.matrix import load_matrix
from tests.helpers.media import REPO
from tests.test_cli import cli


def _matrix(tmp_path: Path, write_suite, **top) -> Path:
    write_suite({"name": "s", "clips": [{"id": "d20", "path": "clips/d20.mp4"}]})
    data = {"suite": "suite.yaml", "runs": [{"model": "identity"}], **top}
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_example_matrix_loads():
    matrix = load_matrix(REPO / "examples" / "matrix.yaml")
    assert [r.name for r in matrix.runs] == ["identity", "driving"]
    assert matrix.base.suite == (REPO / "suites" / "demo.yaml").resolve() and matrix.name == "demo-baselines"


def test_defaults_and_run_names(tmp_path, write_suite):
    path = _matrix(tmp_path, write_suite, runs=[{"model": "tests.helpers.models:noisy", "options": {"sigma": 0.1}}])
    matrix = load_matrix(path)
    assert matrix.name == "matrix" and matrix.base.seed == 0 and matrix.executor_options == {}
    (run,) = matrix.runs
    assert run.name == "tests.helpers.models_noisy" and run.options == {"sigma": 0.1} and run.checkpoint is None


@pytest.mark.parametrize(
    ("top", "where", "problem"),
    [
        ({"rnus": []}, ":4: rnus", "unknown key 'rnus'. Did you mean 'runs'?"),
        ({"runs": []}, ": runs", "expected at least one run"),
        ({"runs": [{"model": "identity"}, {"model": "identity"}]}, ": runs[1]", "run name 'identity' is used twice"),
        ({"runs": [{"model": "identity", "checkpoint": "none.pth"}]}, ": runs[0].checkpoint", "file not found"),
        ({"runs": [{"model": "identity", "name": "a/b"}]}, ": runs[0].name", "must match"),
        ({"metrics": ["l1", "sssim"]}, ": metrics[1]", "Unknown metric 'sssim'"),
        ({"executor": {"workers": "two"}}, ": executor.workers", "expected a number, got 'two'"),
        ({"executor": {"worker": 2}}, ": executor.worker", "Did you mean 'workers'?"),
        ({"suite": "missing.yaml"}, ": suite", "file not found"),
    ],
)
def test_bad_matrix_names_file_line_and_key(tmp_path, write_suite, top, where, problem):
    path = _matrix(tmp_path, write_suite, **top)
    with pytest.raises(ConfigError) as info:
        load_matrix(path)
    message = str(info.value)
    assert message.startswith(str(path)) and where in message and problem in message


@pytest.mark.slow  # subprocesses
def test_executor_flag_errors_exit_2(tmp_path, write_suite):
    suite = write_suite({"name": "s", "clips": [{"id": "d20", "path": "clips/d20.mp4"}]})
    ray_flags_alone = cli("evaluate", "--suite", str(suite), "--model", "identity", "--workers", "2")
    assert ray_flags_alone.returncode == 2 and "--workers need --executor ray" in ray_flags_alone.stderr
    no_suite = cli("evaluate", "--model", "identity")
    assert no_suite.returncode == 2 and "--suite and --model are required (or --matrix FILE)" in no_suite.stderr
    matrix = _matrix(tmp_path, write_suite)
    mixed = cli("evaluate", "--matrix", str(matrix), "--model", "identity")
    assert mixed.returncode == 2 and "--model belong in the matrix file" in mixed.stderr


@pytest.mark.slow  # subprocess
def test_ray_executor_without_ray_says_how_to_install(tmp_path, write_suite):
    hidden = tmp_path / "no_ray" / "ray"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n")
    suite = write_suite({"name": "s", "clips": [{"id": "d20", "path": "clips/d20.mp4"}]})
    result = cli(
        "evaluate",
        "--suite",
        str(suite),
        "--model",
        "identity",
        "--executor",
        "ray",
        "--out",
        str(tmp_path / "o"),
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'm.db'}",
        env={"PYTHONPATH": f"{hidden.parent}:{REPO}"},
    )
    assert result.returncode == 2 and "pip install 'qa_harness[ray]'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()  # failed before any work
