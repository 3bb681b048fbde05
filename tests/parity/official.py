"""Importing an official repository's `modules` package on this machine (CPU torch, no usable torchvision).

Only the fixture script uses this; the official code is read from a checkout given on the command line and
is never copied into the project. Shims, applied by monkeypatching at import time (their files are not
edited):
- torchvision: the installed wheel is a CUDA build whose `__init__` fails with the CPU torch; a bare module
  named `torchvision` whose `__path__` is the installed package folder lets `torchvision.models` import
  (its model files are pure Python).
- scikit-image >= 0.19 removed `skimage.draw.circle` (imported by the official `logger.py`); it is
  added back as a wrapper of its successor `disk`.
- Each repository has a top-level `modules` package (and FOMM/MRAA `sync_batchnorm`); they are dropped from
  `sys.modules` before and after, so two repositories never mix.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path

_REPO_PACKAGES = ("modules", "sync_batchnorm")


def _forget_repo_packages() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in _REPO_PACKAGES:
            del sys.modules[name]


def install_torchvision_bypass() -> None:
    """Register a bare `torchvision` module over the installed package folder (idempotent)."""
    if "torchvision" in sys.modules:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchvision is not installed; the official TPSMM/MRFA code needs its model files")
    bare = types.ModuleType("torchvision")
    bare.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = bare


def install_skimage_circle() -> None:
    """`skimage.draw.circle(r, c, radius, shape)` for code written before scikit-image 0.19."""
    import skimage.draw

    if not hasattr(skimage.draw, "circle"):
        skimage.draw.circle = lambda r, c, radius, shape=None: skimage.draw.disk((r, c), radius, shape=shape)


@contextlib.contextmanager
def official_repo(repo: Path) -> Iterator[types.SimpleNamespace]:
    """Within the block, `ns.load("modules.generator")` imports from `repo`."""
    repo = Path(repo).resolve()
    if not (repo / "modules").is_dir():
        raise SystemExit(f"{repo}: not a checkout of an official repository (no modules/ folder)")
    install_torchvision_bypass()
    install_skimage_circle()
    _forget_repo_packages()
    sys.path.insert(0, str(repo))
    try:
        yield types.SimpleNamespace(load=importlib.import_module, path=repo)
    finally:
        sys.path.remove(str(repo))
        _forget_repo_packages()
