"""Per-frame condition tags of a suite: a Parquet sidecar beside the manifest, written by `suites tag`.

The sidecar `<manifest stem>.conditions.parquet` holds one row per (pair, driving frame) with
`cond:<tag>` columns; `load_suite` attaches them to each `Pair` (and hashes the file into the suite
version), and the runner merges a frame's tags over its pair's clip-level tags.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qa_harness.records import COND_PREFIX


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
