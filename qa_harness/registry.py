"""Name -> object registries with lazy `"module:attr"` entries, options and a base class.

Lazy strings keep `import qa_harness` free of torch/mlflow imports until something is used, and let
`catalog.py` list every model and metric on one screen. An entry may bind options, so a variant is
configuration, not code: `METRICS.add("akd_fan", "qa_harness.metrics.akd:build", landmarks="fan")`.
Every registry also takes a user's own object as `"package.module:attr"` in place of a name, and
`build` checks what an entry makes against the registry's base class. Unknown names raise with close
matches.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from collections.abc import Iterator, Mapping
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
    """A named set of lazily imported entries, each with bound options.

    `base`: what `build` must return (an instance of it); None for registries of plain functions.
    """

    def __init__(self, kind: str, base: str | type | None = None) -> None:
        self.kind = kind
        self._base = base  # a "module:attr" string until first use, like the entries
        self._entries: dict[str, str | Any] = {}
        self._options: dict[str, dict[str, Any]] = {}

    def add(self, name: str, target: str | Any, /, **options: Any) -> None:
        """Bind `name` to an object or a `"module:attr"` string, with keyword options passed on every call.

        A second binding of a name raises; so does a name with ':' (that form means an import path).
        """
        if name in self._entries:
            raise QaHarnessError(f"{self.kind} '{name}' is registered twice: {self._entries[name]!r} and {target!r}")
        if ":" in name:
            raise QaHarnessError(f"{self.kind} name '{name}' may not contain ':' (it marks 'module:attr' paths)")
        self._entries[name] = target
        self._options[name] = options

    def get(self, name: str) -> Any:
        """The object for `name` (its options bound), importing it on first use; `"module:attr"` imports
        a user's own object."""
        if ":" in name and name not in self._entries:
            return import_object(name)
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownNameError(f"Unknown {self.kind} '{name}'.{hint} Known: {', '.join(sorted(self._entries))}")
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._entries[name] = import_object(entry)
        options = self._options[name]
        return functools.partial(entry, **options) if options else entry

    def options_in_effect(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keyword options a build of `name` gets: the builder's defaults, the catalog's options over
        them, `overrides` (a suite's) over those; what a run logs so that its variant can be read back."""
        params = inspect.signature(self.get(name)).parameters.values()
        keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        found = {p.name: p.default for p in params if p.kind in keyword and p.default is not p.empty}
        return {**found, **(overrides or {})}

    def unknown_options(self, name: str, options: Mapping[str, Any]) -> list[str]:
        """The keys of `options` that the entry does not take (none when it takes `**kwargs`)."""
        params = inspect.signature(self.get(name)).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return []
        return sorted(set(options) - {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)})

    @property
    def base(self) -> type | None:
        if isinstance(self._base, str):
            self._base = import_object(self._base)
        return self._base

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the entry (a factory or a class) with its options, `kwargs` overriding them; the result must
        be an instance of the registry's base class."""
        made = self.get(name)(*args, **kwargs)
        base = self.base
        if base is not None and not isinstance(made, base):
            raise QaHarnessError(
                f"{self.kind} '{name}' made a {type(made).__qualname__}; expected an instance of "
                f"{base.__module__}.{base.__qualname__}"
            )
        return made

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
