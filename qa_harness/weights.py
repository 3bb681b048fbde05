"""Find and load weight files by the qa_harness convention, safely and strictly.

Convention (one for every model and metric): a weight file is looked up (1) at an explicit path the
user gives, then (2) in `$QA_HARNESS_WEIGHTS` (a folder, default `~/.cache/qa_harness/weights`), then
(3) in the upstream project's own cache (e.g. `torch.hub.get_dir()/checkpoints/`). Nothing is ever
downloaded: an absent file raises `WeightsUnavailableError` naming the file, where it comes from and
every folder searched, so the runner can report the metric as unavailable and the user can fix it.

Files are read with `torch.load(..., weights_only=True)` (no arbitrary pickles) and loaded with
strict keys; a mismatch raises `CheckpointError` naming the file and the keys that differ.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor, nn

from qa_harness.errors import CheckpointError, DependencyUnavailableError, WeightsUnavailableError

ENV_VAR = "QA_HARNESS_WEIGHTS"
DEFAULT_WEIGHTS_DIR = "~/.cache/qa_harness/weights"
#: How many differing keys a `CheckpointError` quotes per kind (missing, unexpected, wrong shape).
KEYS_QUOTED = 5
#: torch's `weights_only` refusal of one class or function (its error names only the first it meets).
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def weights_dir() -> Path:
    """The qa_harness weight folder: `$QA_HARNESS_WEIGHTS`, else `~/.cache/qa_harness/weights`."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_WEIGHTS_DIR).expanduser()


def torch_hub_checkpoints() -> Path:
    """torch hub's download cache, `torch.hub.get_dir()/checkpoints` (honours `$TORCH_HOME`)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weight_file(
    file_name: str, *, source: str, explicit: Path | None = None, upstream: Sequence[Path] = ()
) -> Path:
    """Return the path of `file_name` by the convention above; `source` says where the file comes from.

    An explicit path must exist (it is never silently replaced by a cached file of the same name).
    """
    if explicit is not None:
        if explicit.is_file():
            return explicit
        raise WeightsUnavailableError(f"{explicit}: weight file not found (expected {file_name}, from {source})")
    folders = [weights_dir(), *upstream]
    for folder in folders:
        if (folder / file_name).is_file():
            return folder / file_name
    searched = ", ".join(str(folder) for folder in folders)
    raise WeightsUnavailableError(
        f"weight file '{file_name}' not found; it comes from {source}. Searched: {searched}. "
        f"Put the file in one of these folders (e.g. {folders[0] / file_name}; set ${ENV_VAR} to use "
        f"another folder) or give its path explicitly."
    )


def refused_code(path: Path, err: pickle.UnpicklingError) -> str:
    """What a file refused by `torch.load(weights_only=True)` needs unpickled, for the error message: every
    class or function it references (torch's scan of a zip-format file), else the one torch's error names
    (legacy format), else torch's reason line without its ANSI escapes."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (ValueError, RuntimeError, OSError, pickle.UnpicklingError):
        names = []
    names = names or _REFUSED_GLOBAL.findall(str(err))
    if names:
        return f"it needs unpickling of {', '.join(sorted(names))}"
    lines = [line.strip() for line in _ANSI.sub("", str(err)).splitlines() if line.strip()]
    reason = next((line for line in lines if "WeightsUnpickler error" in line), lines[0] if lines else repr(err))
    return f"torch refused it: {reason}"


def not_a_torch_file(path: Path) -> str | None:
    """Why `path` cannot be a torch.save file (neither its zip archive nor a legacy pickle), else None.

    Checked before blaming an unpickling error on untrusted code: random bytes are no checkpoint at all.
    """
    import zipfile

    with open(path, "rb") as fh:
        head = fh.read(2)
    if zipfile.is_zipfile(path) or (len(head) == 2 and head[0] == 0x80 and head[1] <= 5):  # pickle protocol 2..5
        return None
    return f"{path}: not a torch checkpoint (neither a torch.save zip archive nor a pickle; first bytes {head!r})"


def load_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a name -> tensor mapping with `weights_only=True`; anything else is a `CheckpointError`."""
    if Path(path).is_file() and (problem := not_a_torch_file(path)):
        raise CheckpointError(problem)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path}: refused: {refused_code(path, err)}, which can run arbitrary code") from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: cannot be read as a torch weight file: {err}") from err
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state dict (parameter name -> tensor), got {type(state).__name__}")
    return dict(state)


def _quote(keys: Sequence[str]) -> str:
    more = f", ... ({len(keys)} in all)" if len(keys) > KEYS_QUOTED else ""
    return ", ".join(keys[:KEYS_QUOTED]) + more


def load_strict(module: nn.Module, state: Mapping[str, Tensor], *, path: Path, what: str) -> None:
    """Load `state` into `module` with exactly matching keys and shapes, else name the differences."""
    expected = module.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    wrong = [
        f"{key} (file {tuple(state[key].shape)}, network {tuple(expected[key].shape)})"
        for key in sorted(expected.keys() & state.keys())
        if state[key].shape != expected[key].shape
    ]
    problems = [
        f"{label}: {_quote(keys)}"
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("wrong shapes", wrong),
        )
        if keys
    ]
    if problems:
        raise CheckpointError(f"{path}: does not fit {what}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def file_digest(path: Path, *, length: int = 12) -> str:
    """Short sha256 of a weight file: part of a backend's version, so other weights miss a results cache."""
    from qa_harness.suites.hashing import file_sha256

    return file_sha256(Path(path))[:length]


def require_package(module: str, *, extra: str = "face") -> ModuleType:
    """Import an optional package, or raise DependencyUnavailableError naming the extra that installs it.

    Like an absent weight file, a missing optional package makes a metric unavailable, not the run fail.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise DependencyUnavailableError(
            f"package '{module}' is not installed ({err}); install it with: pip install 'qa_harness[{extra}]'"
        ) from err
