"""YAML files whose errors point at a line: `path:LINE: key.path: problem`.

Suites and policies are read through `YamlDoc`, which keeps the line of every node so that a
validator can say *where* a value is wrong, not only what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qa_harness.errors import ConfigError

KeyPath = tuple[str | int, ...]


def describe(keypath: KeyPath) -> str:
    """('clips', 3, 'path') -> 'clips[3].path'."""
    out = ""
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file with the line of each node, for error messages."""

    path: Path
    data: Any
    lines: dict[KeyPath, int]

    def error(self, keypath: KeyPath, problem: str) -> ConfigError:
        """A ConfigError located at the nearest known line of `keypath`."""
        for cut in range(len(keypath), -1, -1):
            if keypath[:cut] in self.lines:
                return ConfigError(f"{self.path}:{self.lines[keypath[:cut]]}", describe(keypath), problem)
        return ConfigError(self.path, describe(keypath), problem)


def _walk(node: yaml.Node, keypath: KeyPath, lines: dict[KeyPath, int], path: Path) -> None:
    lines[keypath] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{path}:{key_node.start_mark.line + 1}", describe(keypath + (key,)), "duplicate key")
            seen.add(key)
            _walk(value_node, keypath + (key,), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, keypath + (i,), lines, path)


def load_yaml(path: Path) -> YamlDoc:
    """Parse `path`; unreadable files and YAML syntax errors become ConfigErrors with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", f"cannot read file: {err}") from err
    loader = yaml.SafeLoader(text)
    try:  # one parse: the node tree gives the line numbers, the data is constructed from it
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(where, "", f"invalid YAML: {problem}") from err
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines, path)
    return YamlDoc(path, data, lines)


def check_keys(doc: YamlDoc, keypath: KeyPath, mapping: Any, *, required: set[str], optional: set[str]) -> None:
    """Raise on a non-mapping, an unknown key (with a suggestion) or a missing required key."""
    import difflib

    if not isinstance(mapping, dict):
        raise doc.error(keypath, f"expected a mapping, got {type(mapping).__name__}")
    allowed = required | optional
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise doc.error(keypath + (key,), f"unknown key '{key}'.{hint} Allowed: {', '.join(sorted(allowed))}")
    for key in sorted(required - set(mapping)):
        raise doc.error(keypath, f"missing required key '{key}'")
