"""`qa-harness suites build`: curate folders of raw videos into a stratified, versioned suite.

Writes `<out>.yaml` (the manifest: clips with their tags, the bins used, and a `generator` block
with the seed, the strata and their counts and every curation setting), the selected clips (PNG
folders or mp4 files) under `<out stem>/` or `media` (every candidate is kept in `.qa_cache/<out
stem>.build/clips/`), `<out stem>.curation.yaml`, the report of every segment and variant, accepted
or rejected with its reason, and `<out stem>.card.md`, the suite card (clips per stratum and per
condition value). Controlled variants of the accepted clips (`variants`, see `suites.variants`) join
the candidates before the draw. A condition value with fewer than `min_clips` clips, a label of a
strata tag no clip has and a stratum smaller than `per_stratum` are warned about and listed on the
card. The suite version (a hash of manifest and media) changes when the seed, a bin or a clip does.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import yaml

from qa_harness.errors import QaHarnessError
from qa_harness.records import CropBox
from qa_harness.suites.bins import DEFAULT_BINS, load_bins
from qa_harness.suites.card import render_card
from qa_harness.suites.curate import BuildSpec, Segment, curate_video, find_videos, media_name, write_clip
from qa_harness.suites.strata import stratify
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.suites.variants import POSE_GAP, make_variants, parse_variants
from qa_harness.video.io import probe

log = logging.getLogger(__name__)


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".curation.yaml")


def cache_path(out: Path) -> Path:
    """Where the curation of `out` is cached: `.qa_cache/<stem>.build/` beside it (never committed)."""
    return out.parent / ".qa_cache" / f"{out.stem}.build"


def card_path(out: Path) -> Path:
    return out.with_name(out.stem + ".card.md")


def _variants(per_video, videos, root: Path, tagger: Tagger, spec: BuildSpec) -> dict[str, dict]:
    """Variant clip id -> {tags, measured, variant, of[, reason]}: each made from a real clip and stored
    like it; its tags are the real clip's but for the axis the variant changes, measured on the variant
    (a variant on which that axis reads `unknown` is rejected, with the reason)."""
    real = {
        s.id: (root / media_name(s.id, spec), videos[name], CropBox(*s.crop))
        for name, segs in per_video.items()
        for s in segs
        if not s.reason
    }
    fps = {s.id: probe(videos[name]).fps for name, segs in per_video.items() for s in segs if not s.reason}
    real_tags = {s.id: s.tags for segs in per_video.values() for s in segs if not s.reason}
    variants = {v.name: v for v in parse_variants(",".join(spec.variants))}
    groups = {axis: {b.tag for b in tags} for axis, tags in load_bins(spec.bins).items()}
    made = make_variants(
        real,
        tuple(variants.values()),
        per_op=spec.variants_per_op,
        seed=spec.seed,
        resolution=spec.resolution,
        stride=spec.stride,
        tagger=tagger,
        write=lambda i, frames: write_clip(frames, root, i, spec, fps=fps[i.split("~")[0]]),
    )
    out = {}
    for new_id, clip_id, name in made:
        measured = tagger.tag_clip(root / media_name(new_id, spec)).clip_labels  # every frame, as curate tags
        changed = groups.get(variants[name].changes, set(measured))
        if variants[name].op == POSE_GAP:
            changed = {"pose_gap"}  # one new source frame: the gap changes, the driving poses do not
        tags = {**real_tags[clip_id], **{t: v for t, v in measured.items() if t in changed}}
        out[new_id] = {"tags": tags, "measured": dict(measured), "variant": name, "of": clip_id}
        unknown = sorted(t for t in changed if tags.get(t) == "unknown")
        if unknown:  # as a real clip without a face: the condition it was made for cannot be told
            out[new_id]["reason"] = f"{', '.join(unknown)} not measurable on the variant (face not found)"
    return out


def _publish(source: Path, target: Path) -> None:
    """Put a selected clip (file or frame folder) into the media folder: hard links, else copies."""
    files = sorted(source.iterdir()) if source.is_dir() else [source]
    for file in files:
        dest = target / file.name if source.is_dir() else target
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        try:
            os.link(file, dest)
        except OSError:
            shutil.copyfile(file, dest)


def _kept(tags: dict[str, str], spec: BuildSpec, variant: str) -> dict[str, str]:
    kept = {t: v for t, v in tags.items() if not spec.tags or t in spec.tags}
    return {**kept, "variant": variant} if spec.variants else kept


def value_counts(clips: dict[str, dict[str, str]]) -> dict[str, dict[str, int]]:
    """Tag -> value -> number of clips, over the clips' tags."""
    counts: dict[str, Counter] = {}
    for tags in clips.values():
        for tag, value in tags.items():
            counts.setdefault(tag, Counter())[value] += 1
    return {tag: dict(sorted(c.items())) for tag, c in counts.items()}


def _warn_thin(out: Path, counts: dict[str, dict[str, int]], strata, spec: BuildSpec) -> list[str]:
    """Warnings (logged and returned): tag values with fewer than `min_clips` clips, labels of a strata
    tag that no clip has, strata with fewer clips than `per_stratum`."""
    bins = {b.tag: b.labels for tags in load_bins(spec.bins).values() for b in tags}
    warnings = [
        f"{tag}={value}: {n} clip(s), fewer than {spec.min_clips} (thin)"
        for tag, values in counts.items()
        for value, n in values.items()
        if n < spec.min_clips
    ]
    warnings += [
        f"{tag}={label}: no clip (empty)"
        for tag in spec.strata
        for label in bins.get(tag, ())
        if label not in counts.get(tag, {})
    ]
    small = [s for s in strata if spec.per_stratum and len(s.available) < spec.per_stratum]
    if small:
        warnings.append(f"{len(small)} of {len(strata)} strata have fewer than --per-stratum {spec.per_stratum} clips")
    for warning in warnings:
        log.warning("%s: %s", out, warning)
    return warnings


def _videos_of(folders: Sequence[Path]) -> dict[str, Path]:
    """Videos by name over every folder; one name in two folders is an error (clip ids come from names)."""
    found: dict[str, Path] = {}
    for folder in folders:
        for video in find_videos(folder):
            if video.name in found:
                raise QaHarnessError(f"{video}: a video named {video.name!r} is also in {found[video.name].parent}")
            found[video.name] = video
    return found


def _relative(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path.resolve(), out.resolve().parent)).as_posix()


def build_suite(videos: Path | Sequence[Path], out: Path, spec: BuildSpec) -> Path:
    """Curate every video of the folder(s) `videos` and write the suite manifest `out`; returns `out`."""
    folders = [videos] if isinstance(videos, Path) else list(videos)
    root = spec.media.resolve() if spec.media else out.with_suffix("")
    cache = cache_path(out)
    work = cache / "clips"  # every candidate clip; the selected ones go to `root`
    tagger = Tagger(build_axes(spec.axes, bins_path=spec.bins), landmarks=spec.landmarks)
    per_video: dict[str, list[Segment]] = {}
    found = _videos_of(folders)
    for name, video in found.items():
        per_video[name] = curate_video(video, work, cache, tagger, spec)
    accepted = {s.id: s for segments in per_video.values() for s in segments if not s.reason}
    variants = _variants(per_video, found, work, tagger, spec) if spec.variants else {}
    candidates = {i: _kept(s.tags, spec, "none") for i, s in accepted.items()}
    candidates |= {i: _kept(v["tags"], spec, v["variant"]) for i, v in variants.items() if "reason" not in v}
    strata = stratify(candidates, by=spec.strata, per_stratum=spec.per_stratum, seed=spec.seed)
    selected = sorted(i for stratum in strata for i in stratum.selected)
    for clip_id in selected:
        _publish(work / media_name(clip_id, spec), root / media_name(clip_id, spec))
    counts = value_counts({i: candidates[i] for i in selected})
    bins = yaml.safe_load(Path(spec.bins or DEFAULT_BINS).read_text())
    settings = {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(spec).items()
        if k not in ("bins", "media")
    }
    manifest = {
        "name": out.stem,
        "description": f"Curated from {len(per_video)} videos: {len(selected)} of {len(candidates)} clips "
        f"({len(accepted)} accepted real clips, {len(candidates) - len(accepted)} variants of them).",
        "data_root": Path(os.path.relpath(root, out.resolve().parent)).as_posix(),
        "resolution": spec.resolution,
        "bins": {axis: bins[axis] for axis in spec.axes},
        "generator": {
            "tool": "qa_harness.suites.build",
            "videos": _relative(folders[0], out) if len(folders) == 1 else [_relative(f, out) for f in folders],
            **settings,
            "strata_counts": {s.key: {"available": len(s.available), "selected": len(s.selected)} for s in strata},
            "rejected": sum(1 for segs in per_video.values() for s in segs if s.reason),
            "rejected_variants": sum(1 for v in variants.values() if "reason" in v),
        },
        "clips": [{"id": i, "path": media_name(i, spec), "tags": candidates[i]} for i in selected],
    }
    if not selected:
        log.warning("%s: no clip was accepted; see %s", out, report_path(out))
    warnings = _warn_thin(out, counts, strata, spec)
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
    if variants:
        report["variants"] = [
            {"id": i, "status": "rejected" if "reason" in v else "accepted", **v, "selected": i in selected}
            for i, v in variants.items()
        ]
    report_path(out).write_text(yaml.safe_dump(report, sort_keys=False, width=110))
    out.write_text(yaml.safe_dump(manifest, sort_keys=False, width=110))
    card_path(out).write_text(render_card(out, manifest, counts, warnings))
    return out
