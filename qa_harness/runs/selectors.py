"""Condition selectors: which frames a rule, comparison cell or report table looks at.

Grammar (one string): `all`; `each` (one selector per axis=value present in the records);
`<axis>=*` (one per value of that axis); terms `<axis>=<value>` / `<axis>!=<value>` joined by `&`
(e.g. `yaw=extreme&occlusion!=none`). Conditions are per frame (`cond:<axis>` columns), so a clip
may fall into a condition with only some of its frames; a frame without a value for an axis
matches no `=` term and every `!=` term.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_harness.records import COND_PREFIX, condition_columns

_TERM = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(!=|=)\s*([^&=!]+?)\s*$")


class SelectorSyntaxError(ValueError):
    """A selector string that does not follow the grammar; the message says which part."""


@dataclass(frozen=True, slots=True)
class Term:
    axis: str
    equal: bool
    value: str

    def __str__(self) -> str:
        return f"{self.axis}{'=' if self.equal else '!='}{self.value}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A concrete selector: all terms must hold (an empty tuple selects every frame)."""

    terms: tuple[Term, ...] = ()

    def __str__(self) -> str:
        return "&".join(str(t) for t in self.terms) if self.terms else "all"

    @property
    def slug(self) -> str:
        """MLflow-style metric suffix: `yaw=extreme` -> `yaw_extreme`, `all` -> `all`."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(self).replace("!=", "_not_").replace("=", "_"))

    def mask(self, frames: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the rows of a wide records table."""
        keep = np.ones(len(frames), dtype=bool)
        for term in self.terms:
            column = COND_PREFIX + term.axis
            values = frames[column].to_numpy(dtype=object) if column in frames else np.full(len(frames), None)
            hit = values == term.value
            keep &= hit if term.equal else ~hit
        return keep


@dataclass(frozen=True, slots=True)
class SelectorSpec:
    """A selector as written: a concrete one, or `each` / `<axis>=*` to expand against records."""

    text: str
    concrete: Selector | None
    expand_axis: str | None  # "*" for `each`, an axis name for `<axis>=*`

    def expand(self, frames: pd.DataFrame) -> list[Selector]:
        """Concrete selectors for a records table, in sorted order."""
        if self.concrete is not None:
            return [self.concrete]
        axes = condition_axes(frames) if self.expand_axis == "*" else [self.expand_axis]
        out = []
        for axis in axes:
            column = COND_PREFIX + axis
            if column not in frames:
                continue
            for value in sorted(v for v in frames[column].dropna().unique() if isinstance(v, str)):
                out.append(Selector((Term(axis, True, value),)))
        return out


def condition_axes(frames: pd.DataFrame) -> list[str]:
    return sorted(condition_columns(frames))


def condition_values(*frames: pd.DataFrame) -> dict[str, set[str]]:
    """Axis -> values present in wide records tables (`cond:<axis>` columns), over all of them."""
    seen: dict[str, set[str]] = {}
    for table in frames:
        for column in table.columns:
            if column.startswith(COND_PREFIX):
                values = {v for v in table[column].dropna().unique() if isinstance(v, str)}
                seen.setdefault(column[len(COND_PREFIX) :], set()).update(values)
    return seen


def absent(selector: Selector, frames: pd.DataFrame) -> str:
    """Why no frame can match `selector` (an axis or value the records do not have, e.g. a typo), or ""."""
    for term in selector.terms:
        column = COND_PREFIX + term.axis
        known = condition_axes(frames) if column not in frames else sorted(set(frames[column].dropna().astype(str)))
        wanted = term.axis if column not in frames else term.value
        if wanted in known:
            continue
        close = difflib.get_close_matches(wanted, known, n=3)
        what = f"axis {term.axis!r}" if column not in frames else f"value {term.axis}={term.value!r}"
        return f"{what} is not in the candidate's records (known: {', '.join(known) or 'none'})" + (
            f"; did you mean {', '.join(close)}?" if close else ""
        )
    return ""


def parse_selector(text: str) -> SelectorSpec:
    """Parse one selector string; raises `SelectorSyntaxError` naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise SelectorSyntaxError(f"a condition selector must be a non-empty string, got {text!r}")
    stripped = text.strip()
    if stripped == "all":
        return SelectorSpec(stripped, Selector(), None)
    if stripped == "each":
        return SelectorSpec(stripped, None, "*")
    wildcard = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*=\s*\*", stripped)
    if wildcard:
        return SelectorSpec(stripped, None, wildcard.group(1))
    terms = []
    for part in stripped.split("&"):
        match = _TERM.match(part)
        if not match:
            raise SelectorSyntaxError(
                f"bad condition term {part.strip()!r} in {stripped!r}: expected 'axis=value' or "
                "'axis!=value' joined by '&', or 'all', 'each', 'axis=*'"
            )
        terms.append(Term(match.group(1), match.group(2) == "=", match.group(3)))
    return SelectorSpec(stripped, Selector(tuple(terms)), None)
