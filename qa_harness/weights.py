"""Find what a backend needs that the project does not ship: weight files and optional packages.

Nothing here downloads. The lookup order is the project convention: (1) the path the user gives (a file,
or a folder holding the file), (2) `$QA_HARNESS_WEIGHTS` (default `~/.cache/qa_harness/weights`), (3) the
upstream project's standard cache (e.g. `torch.hub.get_dir()/checkpoints`). When none has the file, the
`WeightsUnavailableError` names the file, where it comes from and every folder searched, so the user
knows what to put where; the runner then reports the metric as unavailable instead of aborting.
The face backends' packages (mediapipe, dlib, face-alignment) are the optional extra `face`; a missing
one is a DependencyUnavailableError (same handling) naming the pip command.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import torch

from qa_harness.errors import DependencyUnavailableError, WeightsUnavailableError

WEIGHTS_ENV = "QA_HARNESS_WEIGHTS"


def weights_dir() -> Path:
    """The project's own weight folder: `$QA_HARNESS_WEIGHTS` or `~/.cache/qa_harness/weights`."""
    return Path(os.environ.get(WEIGHTS_ENV, Path.home() / ".cache" / "qa_harness" / "weights")).expanduser()


def torch_hub_checkpoints() -> Path:
    """torch hub's checkpoint cache (`~/.cache/torch/hub/checkpoints` unless TORCH_HOME says otherwise)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(filename: str, *, explicit: Path | None, upstream: Path | None, origin: str) -> Path:
    """Return the first existing `filename` along the lookup order, else raise WeightsUnavailableError.

    `explicit` may name the file itself or a folder that holds it; `origin` says where the file comes
    from (a URL or project name), for the error message.
    """
    return find_weight_files((filename,), explicit=explicit, upstream=upstream, origin=origin)[0]


def find_weight_files(
    filenames: tuple[str, ...], *, explicit: Path | None, upstream: Path | None, origin: str
) -> tuple[Path, ...]:
    """`find_weights` for several files that belong together; one error names every missing file."""
    folders: list[Path] = []
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        if not explicit.is_dir() and len(filenames) == 1:
            if explicit.is_file():
                return (explicit,)
            folders.append(explicit.parent)
        else:
            folders.append(explicit)
    folders.append(weights_dir())
    if upstream is not None:
        folders.append(upstream)
    found, missing = [], []
    for name in filenames:
        hits = [folder / name for folder in folders if (folder / name).is_file()]
        (found if hits else missing).append(hits[0] if hits else name)
    if missing:
        searched = "\n".join(f"  - {folder}" for folder in folders)
        listed = ", ".join(f"'{name}'" for name in missing)
        explicit_note = f" (given: {explicit})" if explicit is not None else ""
        raise WeightsUnavailableError(
            f"weight file(s) {listed} not found{explicit_note}; they come from {origin}. "
            f"Put them in one of these folders:\n{searched}"
        )
    return tuple(found)


def file_digest(path: Path, *, length: int = 12) -> str:
    """Short sha256 of a weight file: part of a backend's version, so other weights miss the cache."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:length]


def require_package(module: str, *, extra: str = "face") -> ModuleType:
    """Import an optional package, or raise DependencyUnavailableError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise DependencyUnavailableError(
            f"package '{module}' is not installed ({err}); install it with: pip install 'qa_harness[{extra}]'"
        ) from err
