"""Files shipped inside the package: bins, the shipped suites and their media, the default gate.

They live in `qa_harness/assets/` (the repository's `suites/`, `gates/` and `data/` are links to its
folders, so paths in the docs stay valid in a checkout) and are found through `importlib.resources`,
so an installed wheel tags, gates and runs the demo without the source tree. The package folder is
never written to: caches of shipped suites go to the user's cache folder (`suite_cache_dir`).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from qa_harness.errors import QaHarnessError


def asset(*parts: str) -> Path:
    """The path of a shipped file, e.g. `asset("suites", "bins.yaml")` (readers report a missing one).

    Suites name their media by relative paths, so the files must be real files: a package imported
    from a zip archive cannot serve them and is refused with a message saying so.
    """
    path = files("qa_harness").joinpath("assets", *parts)
    if not isinstance(path, Path):
        raise QaHarnessError(
            f"qa_harness is imported from an archive ({path}); install it unpacked to use its "
            "shipped suites, bins and gates"
        )
    return path


#: Measured tags -> condition labels (`suites/bins.yaml` in a checkout).
BINS = asset("suites", "bins.yaml")
#: The demo suite (`suites/demo.yaml`); its media are under `assets/data/` (`data/`).
DEMO_SUITE = asset("suites", "demo.yaml")
#: The default release gate policy (`gates/default.yaml`).
DEFAULT_GATE = asset("gates", "default.yaml")


#: The cache root a user may set (shared by every suite: entries are keyed by suite version and content).
CACHE_ENV = "QA_HARNESS_CACHE"


def user_cache_dir() -> Path:
    """`$QA_HARNESS_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/qa_harness`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "qa_harness"


def suite_cache_dir(suite_path: Path) -> Path:
    """Where work on a suite's content (ground-truth face analysis) is cached.

    `$QA_HARNESS_CACHE` when set; else `.qa_cache` beside the manifest (so a suite on a shared filesystem
    shares its cache with every node) unless the manifest is inside the installed package (a wheel's files
    stay as shipped, and site-packages may be read-only or shared by users) or its folder is not writable:
    then the user cache (`user_cache_dir`).
    """
    if os.environ.get(CACHE_ENV):
        return user_cache_dir()
    folder = Path(suite_path).resolve().parent
    beside = folder / ".qa_cache"
    package = Path(str(files("qa_harness"))).resolve()
    if folder.is_relative_to(package) or not os.access(beside if beside.exists() else folder, os.W_OK):
        return user_cache_dir()
    return beside
