"""Stratified sampling: a balanced suite across condition bins, reproducible by seed.

A stratum is one combination of clip labels over the chosen tags (e.g. yaw=extreme, lighting=dim).
Up to `per_stratum` clips are drawn from each, without replacement, by a generator seeded with the
seed alone, from the stratum's clips in id order: the same clips and seed give the same suite, and
adding a clip to one stratum does not change the draw in another.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Stratum:
    """One stratum: its labels (tag -> label), the clips it holds and the clips drawn."""

    labels: Mapping[str, str]
    available: tuple[str, ...]
    selected: tuple[str, ...]

    @property
    def key(self) -> str:
        """'yaw=extreme,lighting=dim': how reports and the manifest name the stratum."""
        return ",".join(f"{t}={v}" for t, v in self.labels.items())


def stratify(
    clips: Mapping[str, Mapping[str, str]], *, by: Sequence[str], per_stratum: int | None, seed: int
) -> list[Stratum]:
    """Group clip id -> tags by the labels of `by`; draw up to `per_stratum` per group (None: all)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for clip_id in sorted(clips):
        key = tuple(clips[clip_id].get(tag, "unknown") for tag in by)
        groups.setdefault(key, []).append(clip_id)
    strata = []
    for key in sorted(groups):
        members = groups[key]
        if per_stratum is None or len(members) <= per_stratum:
            chosen = members
        else:
            # One generator per stratum, seeded by the seed and the stratum's labels.
            rng = np.random.default_rng([seed, zlib.crc32("|".join(key).encode())])
            chosen = sorted(members[i] for i in rng.choice(len(members), per_stratum, replace=False))
        strata.append(Stratum(dict(zip(by, key, strict=True)), tuple(members), tuple(chosen)))
    return strata
