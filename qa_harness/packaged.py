"""Files shipped inside the package: bins, the shipped suites and their media, the default gate.

They live in `qa_harness/assets/` (the repository's `suites/`, `gates/` and `data/` are links to its
folders, so paths in the docs stay valid in a checkout) and are found through `importlib.resources`,
so an installed wheel tags, gates and runs the demo without the source tree.
"""

from __future__ import annotations

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
