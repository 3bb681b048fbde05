"""Name -> object registries with lazy `"module:attr"` entries.

Lazy strings keep `import qa_harness` free of torch/mlflow imports until something is used, and let
`catalog.py` list every model and metric on one screen. Unknown names raise with close matches.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any

from qa_harness.errors import QaHarnessError


class UnknownNameError(QaHarnessError, KeyError):
    """A name that is not registered; the message lists close matches and all known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def import_object(target: str) -> Any:
    """Import `"package.module:attr"` and return the attribute."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise QaHarnessError(f"'{target}' is not of the form 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise QaHarnessError(f"cannot import '{module_name}' (from '{target}'): {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise QaHarnessError(f"module '{module_name}' has no attribute '{attr}' (from '{target}')") from err


class Registry:
    """A named set of lazily imported entries."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str | Any] = {}

    def add(self, name: str, target: str | Any) -> None:
        """Bind `name` to an object or a `"module:attr"` string; a second binding of a name raises."""
        if name in self._entries:
            raise QaHarnessError(
                f"{self.kind} '{name}' is registered twice: {self._entries[name]!r} and {target!r}"
            )
        self._entries[name] = target

    def get(self, name: str) -> Any:
        """Return the object for `name`, importing it on first use."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} '{name}'.{hint} Known: {', '.join(sorted(self._entries))}"
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._entries[name] = import_object(entry)
        return entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
