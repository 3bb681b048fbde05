"""Use torchvision's pure-Python model files and the `lpips` package on the CPU torch build (tests only).

The registry's torchvision wheel is a CUDA build: its `__init__` loads `_C.so`, which fails here
(`operator torchvision::nms does not exist`). Its model files (`torchvision/models/*.py`) need none of
that. Registering a bare module named `torchvision` whose `__path__` is the installed package folder
skips the `__init__`, so `torchvision.models` and `lpips` (which imports it) import normally.
Reference side only: qa_harness itself never imports torchvision or lpips.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def bypass_torchvision_init() -> types.ModuleType:
    """Register the bare `torchvision` package (once) and return it; a real import is kept if present."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    spec = importlib.util.find_spec("torchvision")  # locates the folder; does not run its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torchvision is not installed: the LPIPS reference tests need its model files")
    module = types.ModuleType("torchvision")
    module.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = module
    return module


def torchvision_models() -> types.ModuleType:
    """`torchvision.models`, imported through the bypass."""
    bypass_torchvision_init()
    return importlib.import_module("torchvision.models")


def import_lpips() -> types.ModuleType:
    """The `lpips` package (the reference implementation), imported through the bypass."""
    bypass_torchvision_init()
    return importlib.import_module("lpips")
