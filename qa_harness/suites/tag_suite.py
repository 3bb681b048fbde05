"""Tag every clip of a suite manifest with measured conditions: `qa-harness suites tag`.

Writes a copy of the manifest whose clips carry the clip labels of the chosen axes in `tags` (next to
any hand-written ones; a measured tag replaces a hand-written tag of the same name, with a warning),
whose `bins` key holds the bins used (so the suite version, a hash of the manifest, changes when a
bin does), and a sidecar table `<manifest stem>.conditions.parquet` with one row per clip and frame
and a `cond:<tag>` column per tag: the per-frame labels the runner puts into frame records.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import yaml

from qa_harness.catalog import DEFAULT_LANDMARKS
from qa_harness.records import COND_PREFIX
from qa_harness.suites.bins import DEFAULT_BINS
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.yamlfile import load_yaml

log = logging.getLogger(__name__)
DEFAULT_AXES = ("lighting", "pose", "occlusion")


def conditions_path(manifest: Path) -> Path:
    """Where the per-frame conditions of `manifest` live."""
    return manifest.with_name(manifest.stem + ".conditions.parquet")


def tag_suite(
    manifest: Path,
    out: Path,
    *,
    axes: tuple[str, ...] = DEFAULT_AXES,
    bins_path: Path | None = None,
    landmarks: str = DEFAULT_LANDMARKS,
) -> Path:
    """Tag the clips of `manifest` (up to its `max_frames`) and write the tagged manifest `out`."""
    manifest = Path(manifest).resolve()
    suite = load_suite(manifest, probe_media=False)  # validates before any work
    raw = load_yaml(manifest).data
    root = (manifest.parent / raw.get("data_root", ".")).resolve()
    raw["data_root"] = Path(os.path.relpath(root, out.resolve().parent)).as_posix()
    tagger = Tagger(build_axes(axes, bins_path=bins_path), landmarks=landmarks)
    rows = []
    for entry in raw["clips"]:
        clip_id = entry["id"]
        tags = tagger.tag_clip(root / entry["path"], max_frames=suite.max_frames)
        old = entry.get("tags", {})
        for tag, value in tags.clip_labels.items():
            if tag in old and str(old[tag]) != value:
                log.warning("%s: clip %s: measured %s=%s replaces %s", manifest, clip_id, tag, value, old[tag])
        entry["tags"] = {**old, **tags.clip_labels}
        frames = len(next(iter(tags.frame_labels.values())))
        for frame in range(frames):
            row = {"clip": clip_id, "frame": frame}
            row.update({COND_PREFIX + t: labels[frame] for t, labels in tags.frame_labels.items()})
            rows.append(row)
        log.info("%s: %d frames tagged: %s", clip_id, frames, tags.clip_labels)
    bins = yaml.safe_load(Path(bins_path or DEFAULT_BINS).read_text())  # validated by build_axes
    raw["bins"] = {axis: bins[axis] for axis in axes}
    out.write_text(yaml.safe_dump(raw, sort_keys=False, width=110))
    pd.DataFrame(rows).to_parquet(conditions_path(out), index=False)
    return out


def frame_conditions(manifest: Path) -> dict[str, list[dict[str, str]]]:
    """Per-frame conditions written by `tag_suite`: clip id -> one {tag: label} per frame (empty if
    the manifest was never tagged)."""
    path = conditions_path(manifest)
    if not path.exists():
        return {}
    table = pd.read_parquet(path).sort_values(["clip", "frame"])
    tags = [c for c in table.columns if c.startswith(COND_PREFIX)]
    return {
        clip: [{t[len(COND_PREFIX) :]: row[t] for t in tags} for row in group.to_dict("records")]
        for clip, group in table.groupby("clip", sort=False)
    }
