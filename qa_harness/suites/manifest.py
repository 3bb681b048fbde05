"""Suite manifests (`suites/*.yaml`): validated into a `Suite` before any work starts.

```yaml
name: demo
data_root: ../data          # relative to this file; every clip path must stay inside it
resolution: 256             # evaluation resolution (default 256)
max_frames: 48              # optional cap on driving frames per pair
metrics: [l1, psnr, ssim]   # optional; default: catalog.DEFAULT_METRICS
metric_options:             # optional, per metric over the catalog's options (e.g. another detector)
  akd: {landmarks: dlib}
clips:
  - id: d20
    path: clips/d20.mp4     # .mp4, a folder of .png/.jpg frames, or an image
    crop: [left, top, size] # optional square face box in source pixels
    tags: {yaw: frontal, occlusion: none, lighting: dim}   # names and values: suites/bins.yaml
pairs:                      # optional; default: every multi-frame clip under reconstruction
  - driving: d20                        # reconstruction: source = frame 0 of d20
  - {source: lp_s1, driving: d20}       # cross: no ground truth
```
Media that cannot be probed does not invalidate the suite: that clip's pairs fail in the runner
with the reason, and `qa-harness suites validate` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from qa_harness.errors import ClipError, QaHarnessError
from qa_harness.records import PROTOCOLS, Clip, CropBox, Pair, Suite
from qa_harness.suites.conditions import conditions_path, frame_conditions
from qa_harness.suites.hashing import combine, file_sha256, media_sha256
from qa_harness.suites.vocabulary import Vocabulary, manifest_vocabulary
from qa_harness.video.io import IMAGE_SUFFIXES, frame_files, probe
from qa_harness.yamlfile import YamlDoc, check_keys, load_yaml

TAG_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
TOP_REQUIRED = {"name", "clips"}
TOP_OPTIONAL = {
    "description",
    "data_root",
    "resolution",
    "max_frames",
    "metrics",
    "metric_options",
    "pairs",
    "generator",
    "bins",
}
CLIP_REQUIRED = {"id", "path"}
CLIP_OPTIONAL = {"crop", "tags"}
PAIR_OPTIONAL = {"source", "protocol"}


def _positive_int(doc: YamlDoc, keypath: tuple, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise doc.error(keypath, f"expected a positive integer, got {value!r}")
    return value


def _string(doc: YamlDoc, keypath: tuple, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(keypath, f"expected a non-empty string, got {value!r}")
    return value


def _metric_options(doc: YamlDoc, value: Any) -> dict[str, dict[str, Any]]:
    """`metric_options`: metric -> {option: value}; each metric known and each option one its builder takes."""
    from qa_harness.catalog import METRICS

    if not isinstance(value, Mapping):
        raise doc.error(("metric_options",), f"expected a mapping of metric -> {{option: value}}, got {value!r}")
    out = {}
    for name, options in value.items():
        keypath = ("metric_options", name)
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            raise doc.error(keypath, f"expected a mapping of option -> value, got {options!r}")
        try:
            unknown = METRICS.unknown_options(str(name), options)
        except QaHarnessError as err:  # an unknown metric (with close matches), or one that cannot be imported
            raise doc.error(keypath, str(err)) from err
        if unknown:
            raise doc.error((*keypath, unknown[0]), f"metric '{name}' takes no option(s) {', '.join(unknown)}")
        out[str(name)] = dict(options)
    return out


def _media_path(doc: YamlDoc, keypath: tuple, raw: str, root: Path) -> Path:
    if Path(raw).is_absolute():
        raise doc.error(keypath, f"path '{raw}' must be relative to the data root {root}")
    path = (root / raw).resolve()
    if not path.is_relative_to(root):
        raise doc.error(keypath, f"path '{raw}' escapes the data root {root}")
    if not path.exists():
        raise doc.error(keypath, f"file not found: {path}")
    if path.is_dir():  # each frame of a folder too: a symlinked frame must not read outside the root
        for frame in frame_files(path):
            if not frame.resolve().is_relative_to(root):
                raise doc.error(
                    keypath, f"frame {frame.name} of '{raw}' links to {frame.resolve()}, outside the data root {root}"
                )
    return path


def _crop(doc: YamlDoc, keypath: tuple, value: Any) -> CropBox:
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
    if not ok or value[2] <= 0 or value[0] < 0 or value[1] < 0:
        raise doc.error(keypath, f"expected [left, top, size] with non-negative integers, got {value!r}")
    return CropBox(*value)


def _tags(doc: YamlDoc, keypath: tuple, value: Any, vocabulary: Vocabulary) -> dict[str, str]:
    if not isinstance(value, dict):
        raise doc.error(keypath, f"expected a mapping of condition -> value, got {type(value).__name__}")
    tags = {}
    for key, tag in value.items():
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise doc.error(keypath + (key,), f"condition name '{key}' must match {TAG_KEY.pattern}")
        if not isinstance(tag, str | int | float) or isinstance(tag, bool) or str(tag) == "":
            raise doc.error(keypath + (key,), f"condition value must be a non-empty string, got {tag!r}")
        problem = vocabulary.problem(key, str(tag))
        if problem:
            raise doc.error(keypath + (key,), problem)
        tags[key] = str(tag)
    return tags


def _clip(doc: YamlDoc, i: int, entry: Any, root: Path, vocabulary: Vocabulary) -> Clip:
    kp = ("clips", i)
    check_keys(doc, kp, entry, required=CLIP_REQUIRED, optional=CLIP_OPTIONAL)
    clip_id = _string(doc, kp + ("id",), entry["id"])
    path = _media_path(doc, kp + ("path",), _string(doc, kp + ("path",), entry["path"]), root)
    crop = _crop(doc, kp + ("crop",), entry["crop"]) if "crop" in entry else None
    tags = _tags(doc, kp + ("tags",), entry.get("tags", {}), vocabulary)
    return Clip(id=clip_id, path=path, fps=0.0, frame_count=0, size=(0, 0), tags=tags, crop=crop)


def _probed(clip: Clip) -> Clip:
    """Fill rate, length, size and content hash; a media problem is kept on the clip, not raised."""
    sha = media_sha256(clip.path)
    try:
        info = probe(clip.path)
    except ClipError as err:
        return replace(clip, sha256=sha, problem=str(err))
    if clip.crop and (clip.crop.left + clip.crop.size > info.width or clip.crop.top + clip.crop.size > info.height):
        return replace(
            clip,
            sha256=sha,
            problem=f"{clip.path}: crop box {clip.crop} does not fit the {info.width}x{info.height} frame",
        )
    return replace(clip, fps=info.fps, frame_count=info.frame_count, size=(info.width, info.height), sha256=sha)


def _pairs(doc: YamlDoc, raw: Any, clips: dict[str, Clip]) -> tuple[Pair, ...]:
    if raw is None:
        videos = [c for c in clips.values() if c.path.suffix.lower() not in IMAGE_SUFFIXES]
        return tuple(Pair(c.id, c, c, "reconstruction") for c in videos)
    if not isinstance(raw, list) or not raw:
        raise doc.error(("pairs",), "expected a non-empty list of pairs")
    pairs: dict[str, Pair] = {}
    for i, entry in enumerate(raw):
        kp = ("pairs", i)
        if isinstance(entry, str):
            entry = {"driving": entry}
        check_keys(doc, kp, entry, required={"driving"}, optional=PAIR_OPTIONAL)
        ids = {k: entry[k] for k in ("driving", "source") if k in entry}
        for key, clip_id in ids.items():
            if clip_id not in clips:
                raise doc.error(kp + (key,), f"unknown clip id {clip_id!r}; define it under clips")
        driving = clips[entry["driving"]]
        source = clips[entry.get("source", driving.id)]
        protocol = entry.get("protocol", "reconstruction" if source is driving else "cross")
        if protocol not in PROTOCOLS:
            raise doc.error(kp + ("protocol",), f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
        if protocol == "reconstruction" and source is not driving:
            raise doc.error(kp, "reconstruction takes its source from the driving clip; drop 'source'")
        pair_id = driving.id if protocol == "reconstruction" else f"{source.id}->{driving.id}"
        if pair_id in pairs:
            raise doc.error(kp, f"pair {pair_id!r} is listed twice")
        pairs[pair_id] = Pair(pair_id, source, driving, protocol)
    return tuple(pairs.values())


def load_suite(path: Path | str, *, probe_media: bool = True) -> Suite:
    """Validate a manifest and build its Suite; every error names the file, line and key."""
    path = Path(path).resolve()
    doc = load_yaml(path)
    check_keys(doc, (), doc.data, required=TOP_REQUIRED, optional=TOP_OPTIONAL)
    data = doc.data
    name = _string(doc, ("name",), data["name"])
    root = (path.parent / _string(doc, ("data_root",), data.get("data_root", "."))).resolve()
    if not root.is_dir():
        raise doc.error(("data_root",), f"data root {root} is not a folder")
    resolution = _positive_int(doc, ("resolution",), data.get("resolution", 256))
    max_frames = _positive_int(doc, ("max_frames",), data["max_frames"]) if "max_frames" in data else None
    metrics = data.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise doc.error(("metrics",), f"expected a list of metric names, got {metrics!r}")
    from qa_harness.catalog import METRICS  # here: the catalog imports the metrics, which read suites
    from qa_harness.registry import UnknownNameError

    for i, metric in enumerate(metrics):  # not `name`: that is the suite's
        if metric not in METRICS:
            try:
                METRICS.get(metric)  # raises for the unknown name: its message suggests the close ones
            except UnknownNameError as err:
                raise doc.error(("metrics", i), str(err)) from None
    metric_options = _metric_options(doc, data["metric_options"]) if "metric_options" in data else {}
    if not isinstance(data["clips"], list) or not data["clips"]:
        raise doc.error(("clips",), "expected a non-empty list of clips")
    vocabulary = manifest_vocabulary(data, path)
    clips: dict[str, Clip] = {}
    for i, entry in enumerate(data["clips"]):
        clip = _clip(doc, i, entry, root, vocabulary)
        if clip.id in clips:
            raise doc.error(("clips", i, "id"), f"clip id {clip.id!r} is used twice")
        clips[clip.id] = _probed(clip) if probe_media else clip
    pairs = _pairs(doc, data.get("pairs"), clips)
    sidecar = conditions_path(path)
    if sidecar.exists():
        tags = frame_conditions(path)
        pairs = tuple(replace(p, frame_tags=tuple(tags.get(p.id, ()))) for p in pairs)
    version = combine(
        [file_sha256(path)]
        + [f"{c.id}={c.sha256}" for c in clips.values()]
        + ([f"conditions={file_sha256(sidecar)}"] if sidecar.exists() else [])
    )
    return Suite(
        name=name,
        version=version,
        path=path,
        resolution=resolution,
        max_frames=max_frames,
        pairs=pairs,
        metrics=tuple(metrics),
        metric_options=metric_options,
    )
