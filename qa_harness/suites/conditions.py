"""Per-frame condition tags of a suite: a Parquet sidecar beside the manifest, written by `suites tag`.

The sidecar `<manifest stem>.conditions.parquet` holds one row per (pair, driving frame) with
`cond:<tag>` columns and the measurements they were binned from (`<axis>.<measure>`); `load_suite`
attaches the labels to each `Pair` (and hashes the file into the suite version), and the runner
merges a frame's tags over its pair's clip-level tags. `relabel` re-draws the labels from the
measurements with other bins, without decoding or measuring anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from qa_harness.errors import QaHarnessError
from qa_harness.records import COND_PREFIX
from qa_harness.suites.bins import TagBins


def conditions_path(manifest: Path) -> Path:
    """Where the per-frame conditions of `manifest` live."""
    return manifest.with_name(manifest.stem + ".conditions.parquet")


def frame_conditions(manifest: Path) -> dict[str, list[dict[str, str]]]:
    """Per-frame conditions written by `tag_suite`: pair id -> one {tag: label} per driving frame
    (empty if the manifest was never tagged). The runner merges them over `Pair.conditions`."""
    path = conditions_path(manifest)
    if not path.exists():
        return {}
    table = pd.read_parquet(path).sort_values(["pair", "frame"])
    tags = [c for c in table.columns if c.startswith(COND_PREFIX)]
    return {
        pair: [{t[len(COND_PREFIX) :]: row[t] for t in tags} for row in group.to_dict("records")]
        for pair, group in table.groupby("pair", sort=False)
    }


def relabel(table: pd.DataFrame, bins: Mapping[str, tuple[TagBins, ...]]) -> pd.DataFrame:
    """A copy of a sidecar table with every `cond:<tag>` column that `bins` (axis -> tags, as
    `load_bins` returns) defines re-drawn from its measurement column `<axis>.<measure>`; raises
    naming the column when a tagged table lacks the measurement (written before they were kept)."""
    out = table.copy()
    for axis, tags in bins.items():
        for b in tags:
            column, label = f"{axis}.{b.measure}", COND_PREFIX + b.tag
            if label not in table.columns:
                continue
            if column not in table.columns:
                raise QaHarnessError(f"conditions table has {label} but not the measurement {column}: re-tag the suite")
            out[label] = [b.label(float(v)) for v in table[column]]
    return out
