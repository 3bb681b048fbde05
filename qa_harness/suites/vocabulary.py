"""One condition vocabulary: the tag names and values suites, records and policies may use.

Names and values come from the bins (`suites/bins.yaml`, or the `bins` block a tagged or built manifest
carries): a tag such as `yaw` takes the labels of its bins plus `unknown` (frames without a face).
Hand tags use the same names as measured ones (`yaw: extreme`, not `pose: extreme`), so a policy
written for one suite means the same on another. Provenance tags (`source_clip`, `synth_op`, ...)
record how a clip was made; their values are ids and are not checked.

Used by the manifest validator (unknown tag or value: error at file:line with "did you mean"), by
`gate` and `suites validate --policy` (a selector naming a condition the suite cannot produce is an
error, not a silently skipped check).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qa_harness.errors import ConfigError
from qa_harness.suites.bins import DEFAULT_BINS, UNKNOWN, TagBins, load_bins, parse_bins
from qa_harness.yamlfile import describe, load_yaml

#: Tags that say where a clip came from, with open values (clip ids, perturbation names, levels).
PROVENANCE_TAGS = ("source_clip", "synth_axis", "synth_op", "severity", "variant")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Tag -> allowed values (None: any value), and axis group -> its tags (`pose` -> yaw, pitch, ...)."""

    values: Mapping[str, tuple[str, ...] | None]
    groups: Mapping[str, tuple[str, ...]]
    source: str  # where the names come from, for messages

    @classmethod
    def from_bins(cls, bins: Mapping[str, tuple[TagBins, ...]], source: str) -> Vocabulary:
        values: dict[str, tuple[str, ...] | None] = {
            b.tag: b.labels + (UNKNOWN,) for tags in bins.values() for b in tags
        }
        values.update({t: None for t in PROVENANCE_TAGS})
        return cls(values, {axis: tuple(b.tag for b in tags) for axis, tags in bins.items()}, source)

    def extended(self, observed: Mapping[str, Iterable[str]], where: str) -> Vocabulary:
        """This vocabulary plus the tag values seen in `where` (runs of suites with their own bins)."""
        values = dict(self.values)
        for tag, seen in observed.items():
            known = values.get(tag, ())
            if known is not None:
                values[tag] = tuple(dict.fromkeys([*known, *sorted(seen)]))
        return Vocabulary(values, self.groups, f"{self.source} and {where}")

    def problem(self, tag: str, value: str | None) -> str | None:
        """Why `tag` (and `value`, unless None) is not in the vocabulary, with a suggestion; None if it is."""
        if tag not in self.values:
            known = ", ".join(self.values)
            return f"unknown condition '{tag}'.{self._tag_hint(tag, value)} Known: {known} ({self.source})"
        allowed = self.values[tag]
        if value is None or allowed is None or value in allowed:
            return None
        close = difflib.get_close_matches(value, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        return f"'{value}' is not a value of '{tag}'{hint} Values: {', '.join(allowed)} ({self.source})"

    def _tag_hint(self, tag: str, value: str | None) -> str:
        """`pose` + `extreme` -> the tag of group `pose` that has `extreme` (yaw); else a close name."""
        in_group = [t for t in self.groups.get(tag, ()) if value is None or value in (self.values[t] or ())]
        if in_group:
            which = " or ".join(f"'{t}={value}'" if value else f"'{t}'" for t in in_group)
            return f" '{tag}' is an axis group, not a condition: did you mean {which}?"
        close = difflib.get_close_matches(tag, list(self.values), n=1)
        return f" Did you mean '{close[0]}'?" if close else ""


def default_vocabulary(bins_path: Path | None = None) -> Vocabulary:
    """The vocabulary of a bins file (default `suites/bins.yaml`)."""
    path = Path(bins_path) if bins_path is not None else DEFAULT_BINS
    return Vocabulary.from_bins(load_bins(path), str(path))


def manifest_vocabulary(data: Mapping, path: Path) -> Vocabulary:
    """A manifest's vocabulary: its own `bins` block when it has one (tagged and built suites), else
    the default bins."""
    if "bins" in data:
        return Vocabulary.from_bins(parse_bins(data["bins"], path), f"the bins in {path.name}")
    return default_vocabulary()


def _selector_terms(spec) -> list[tuple[str, str | None]]:
    """(tag, value) of each term of a selector; `tag=*` gives (tag, None), `all` and `each` nothing."""
    terms = [(t.axis, t.value) for t in spec.concrete.terms] if spec.concrete is not None else []
    return terms + ([(spec.expand_axis, None)] if spec.expand_axis not in (None, "*") else [])


def check_policy(policy_path: Path, rules: Iterable, vocabulary: Vocabulary) -> None:
    """Raise one ConfigError listing every selector of the policy's rules that names a condition or
    value outside `vocabulary`, each as `file:line: rules[i].conditions[j] (rule 'x'): problem`."""
    doc = load_yaml(Path(policy_path))
    problems = []
    for i, rule in enumerate(rules):
        listed = isinstance(doc.data["rules"][i].get("conditions"), list)
        for j, spec in enumerate(rule.conditions):
            key = ("rules", i, "conditions") + ((j,) if listed else ())
            for tag, value in _selector_terms(spec):
                problem = vocabulary.problem(tag, value)
                if problem:
                    location = f"{doc.path}:{doc.lines.get(key, rule.line)}"
                    problems.append((location, f"{describe(key)} (rule {rule.name!r})", f"{spec.text!r}: {problem}"))
    if len(problems) == 1:
        raise ConfigError(*problems[0])
    if problems:
        raise ConfigError(
            policy_path,
            "",
            "selectors name conditions the suite cannot produce:\n  " + "\n  ".join(": ".join(p) for p in problems),
        )


def unseen_values(spec, expanded: Iterable, values: Mapping[str, tuple[str, ...] | None]) -> list[tuple[str, str]]:
    """(tag, value) pairs of `values` (a vocabulary's) for the tags a wildcard selector `spec` (`each`,
    `yaw=*`) expanded to (`expanded`, from `spec.expand`) that no frame has (`unknown`, frames without a
    face, left out); nothing for a concrete selector."""
    if spec.concrete is not None:
        return []
    seen: dict[str, set[str]] = {}
    for selector in expanded:
        seen.setdefault(selector.terms[0].axis, set()).add(selector.terms[0].value)
    return [(t, v) for t, have in seen.items() for v in values.get(t) or () if v not in have and v != UNKNOWN]


def suite_vocabulary(manifest: Path) -> Vocabulary:
    """The vocabulary of the manifest file `manifest` (see `manifest_vocabulary`)."""
    path = Path(manifest).resolve()
    return manifest_vocabulary(load_yaml(path).data, path)
