"""Tag every clip of a suite manifest with measured conditions: `qa-harness suites tag`.

Clips are tagged as evaluation decodes them (crop box, suite resolution: `Tagger.tag_clip`), so tags
describe the pixels a model gets; a non-square clip without a crop box first gets one, the face-
centred square of `facecrop.face_square` (found once per clip, written into the manifest; with no
face found it keeps the centred square, with a warning).

Writes a copy of the manifest whose clips carry the clip labels of the chosen axes in `tags` (next to
any hand-written ones; a measured tag replaces a hand-written tag of the same name, with a warning),
whose `bins` key holds the bins used (so the suite version, a hash of the manifest, changes when a
bin does), and a sidecar table `<manifest stem>.conditions.parquet` with one row per pair and
driving frame, a `cond:<tag>` column per tag (the per-frame labels the runner puts into frame
records) and an `<axis>.<measure>` column per measurement (degrees, shares, luma; NaN without a
face), so bins can be re-drawn without re-tagging (`conditions.relabel`). Rows are per pair, so
that a cross pair's `pose_gap` is measured from its own source.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from qa_harness.catalog import DEFAULT_AXES, DEFAULT_LANDMARKS
from qa_harness.records import COND_PREFIX, CropBox, Pair
from qa_harness.suites.axes.headpose import rotation_from_angles, rotation_gap
from qa_harness.suites.bins import DEFAULT_BINS, TagBins
from qa_harness.suites.conditions import conditions_path
from qa_harness.suites.facecrop import face_square
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.tagging import ClipTags, Tagger, build_axes
from qa_harness.video.io import probe
from qa_harness.yamlfile import load_yaml

log = logging.getLogger(__name__)
GAP = "pose.pose_gap"  # the measurement a cross pair takes from its own source


def _cross_gap(source: ClipTags, driving: ClipTags) -> np.ndarray:
    """Per driving frame: rotation (degrees) from the source's head pose (its first frame) to the
    driving frame's, the pose gap a cross-protocol model must bridge; NaN without a face."""
    angles = [np.stack([t.measures[f"pose.{a}"] for a in ("yaw", "pitch", "roll")], axis=1) for t in (source, driving)]
    if np.isnan(angles[0][0]).any():
        return np.full(len(angles[1]), np.nan)
    reference = rotation_from_angles(*angles[0][0])
    return np.array(
        [np.nan if np.isnan(a).any() else rotation_gap(reference, rotation_from_angles(*a)) for a in angles[1]]
    )


def _pair_rows(pair: Pair, tagged: dict[str, ClipTags], gap_bins: TagBins | None) -> list[dict]:
    """One row per driving frame: the driving clip's frame labels and measurements; for a cross
    pair, `pose_gap` is the gap to the other clip's source frame instead of to the driving clip's
    own first frame."""
    driving = tagged[pair.driving.id]
    labels = dict(driving.frame_labels)
    measures = dict(driving.measures)
    if pair.protocol == "cross" and gap_bins is not None:
        measures[GAP] = _cross_gap(tagged[pair.source.id], driving)
        labels[gap_bins.tag] = tuple(gap_bins.label(float(g)) for g in measures[GAP])
    frames = len(next(iter(labels.values())))
    return [
        {
            "pair": pair.id,
            "frame": i,
            **{COND_PREFIX + t: values[i] for t, values in labels.items()},
            **{m: float(values[i]) for m, values in measures.items()},
        }
        for i in range(frames)
    ]


def _crop(manifest: Path, entry: dict, path: Path, max_frames: int | None) -> CropBox | None:
    """The clip's crop box: the manifest's, else for non-square media the face-centred square
    (stored into `entry`), else None (a square frame is used whole)."""
    if "crop" in entry:
        return CropBox(*entry["crop"])
    info = probe(path)
    if info.width == info.height:
        return None
    box = face_square(path, max_frames=max_frames)
    if box is None:
        log.warning("%s: clip %s: no face found; evaluation keeps the centred square", manifest, entry["id"])
        return None
    entry["crop"] = [box.left, box.top, box.size]
    log.info("%s: face-centred crop %s", entry["id"], entry["crop"])
    return box


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
    axis_objects = build_axes(axes, bins_path=bins_path)
    tagger = Tagger(axis_objects, landmarks=landmarks)
    tagged: dict[str, ClipTags] = {}
    for entry in raw["clips"]:
        clip_id, path = entry["id"], root / entry["path"]
        crop = _crop(manifest, entry, path, suite.max_frames)
        tags = tagged[clip_id] = tagger.tag_clip(
            path, max_frames=suite.max_frames, resolution=suite.resolution, crop=crop
        )
        old = entry.get("tags", {})
        for tag, value in tags.clip_labels.items():
            if tag in old and str(old[tag]) != value:
                log.warning("%s: clip %s: measured %s=%s replaces %s", manifest, clip_id, tag, value, old[tag])
        entry["tags"] = {**old, **tags.clip_labels}
        log.info("%s: tagged %s", clip_id, tags.clip_labels)
    gap_bins = next((b for a in axis_objects for b in a.bins if b.measure == "pose_gap"), None)
    rows = [row for pair in suite.pairs for row in _pair_rows(pair, tagged, gap_bins)]
    bins = yaml.safe_load(Path(bins_path or DEFAULT_BINS).read_text())  # validated by build_axes
    raw["bins"] = {axis: bins[axis] for axis in axes}
    out.write_text(yaml.safe_dump(raw, sort_keys=False, width=110))
    pd.DataFrame(rows).to_parquet(conditions_path(out), index=False)
    return out
