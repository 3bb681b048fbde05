"""`qa-harness suites build`: curate a folder of raw videos into a stratified, versioned suite.

Writes `<out>.yaml` (the manifest: clips with their tags, the bins used, and a `generator` block with
the seed, the strata and their counts and every curation setting), the clips as PNG folders under
`<out stem>/`, and `<out stem>.curation.yaml`, the report of every segment, accepted or rejected with
its reason. The suite version (a hash of manifest and media) changes when the seed, a bin or a clip
does.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

import yaml

from qa_harness.suites.bins import DEFAULT_BINS
from qa_harness.suites.curate import BuildSpec, Segment, curate_video, find_videos
from qa_harness.suites.strata import stratify
from qa_harness.suites.tagging import Tagger, build_axes

log = logging.getLogger(__name__)


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".curation.yaml")


def build_suite(videos: Path, out: Path, spec: BuildSpec) -> Path:
    """Curate every video of `videos` and write the suite manifest `out`; returns `out`."""
    root = out.with_suffix("")
    tagger = Tagger(build_axes(spec.axes, bins_path=spec.bins), landmarks=spec.landmarks)
    per_video: dict[str, list[Segment]] = {}
    for video in find_videos(videos):
        per_video[video.name] = curate_video(video, root, out.with_suffix(".cache"), tagger, spec)
    accepted = {s.id: s for segments in per_video.values() for s in segments if not s.reason}
    strata = stratify(
        {i: s.tags for i, s in accepted.items()}, by=spec.strata, per_stratum=spec.per_stratum, seed=spec.seed
    )
    selected = sorted(i for stratum in strata for i in stratum.selected)
    bins = yaml.safe_load(Path(spec.bins or DEFAULT_BINS).read_text())
    settings = {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(spec).items()
        if k != "bins"
    }
    manifest = {
        "name": out.stem,
        "description": f"Curated from {len(per_video)} videos: {len(selected)} of {len(accepted)} accepted clips.",
        "data_root": root.name,
        "resolution": spec.resolution,
        "bins": {axis: bins[axis] for axis in spec.axes},
        "generator": {
            "tool": "qa_harness.suites.build",
            "videos": Path(os.path.relpath(videos.resolve(), out.resolve().parent)).as_posix(),
            **settings,
            "strata_counts": {s.key: {"available": len(s.available), "selected": len(s.selected)} for s in strata},
            "rejected": sum(1 for segs in per_video.values() for s in segs if s.reason),
        },
        "clips": [{"id": i, "path": i, "tags": dict(accepted[i].tags)} for i in selected],
    }
    if not selected:
        log.warning("%s: no clip was accepted; see %s", out, report_path(out))
    report = {
        video: [
            {
                "id": s.id,
                "frames": [s.start, s.stop],
                "status": "rejected" if s.reason else "accepted",
                **(
                    {"reason": s.reason}
                    if s.reason
                    else {"crop": list(s.crop), "tags": s.tags, "selected": s.id in selected}
                ),
            }
            for s in segments
        ]
        for video, segments in per_video.items()
    }
    report_path(out).write_text(yaml.safe_dump(report, sort_keys=False, width=110))
    out.write_text(yaml.safe_dump(manifest, sort_keys=False, width=110))
    return out
