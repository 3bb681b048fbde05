"""Errors that name the file and the problem.

Every user-facing failure is a `QaHarnessError`; the CLI prints its message and exits 2. Per-clip
problems (a corrupt video, NaN output) are `ClipError`s: the runner records them and goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class QaHarnessError(Exception):
    """Base class: the message is complete and meant for the user."""


class ConfigError(QaHarnessError):
    """A malformed suite, policy or run configuration: `path: where: problem`."""

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.path, self.where, self.problem = str(path), where, problem
        location = f"{path}: {where}" if where else str(path)
        super().__init__(f"{location}: {problem}")


class CheckpointError(QaHarnessError):
    """A checkpoint or weight file that is missing, unsafe or does not fit the network."""


class WeightsUnavailableError(CheckpointError):
    """A weight file needed by a metric or model is not on disk; the message says where to put it."""


class ClipError(QaHarnessError):
    """A problem confined to one clip (bad media, bad model output); the run records it and goes on."""


class DependencyUnavailableError(WeightsUnavailableError):
    """An optional package a metric needs is not installed; like absent weights, the metric is unavailable.

    A subclass of WeightsUnavailableError so that the runner reports the metric as unavailable (with this
    message, which names the pip command) instead of aborting the run.
    """


@contextlib.contextmanager
def storage_errors(where: Path | str) -> Iterator[None]:
    """Turn an OSError while writing (read-only, full disk, not a directory) into a QaHarnessError naming the
    file and the problem: the user can fix those, so they exit 2, not with a traceback."""
    try:
        yield
    except OSError as err:
        target = err.filename or where
        raise QaHarnessError(f"{target}: cannot write: {err.strerror or err}") from err
