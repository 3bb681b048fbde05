"""Fixtures of the fault-injection suite: the tiny suite and its reference run (the `driving` model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.common import cli, evaluate_args, write_tiny_suite


@pytest.fixture(scope="session")
def fault_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_suite(tmp_path_factory.mktemp("fault_suite"))


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, fault_suite: Path) -> Path:
    """The run folder of the `driving` model on the fault suite: what every good pair must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    result = cli(*evaluate_args(fault_suite, folder / "run", f"sqlite:///{folder / 'mlflow.db'}"))
    assert result.returncode == 0, result.stderr
    return folder / "run"
