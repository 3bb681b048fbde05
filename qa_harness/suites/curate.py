"""Curation of raw videos into a suite: `qa-harness suites build --videos DIR --out suites/NAME.yaml`.

Per video (.mp4/.mov/.mkv/.avi/.webm, or a folder of frames in the FOMM dataset layout):
1. cut into segments of at most `max_len` frames (equal lengths; `max_segments` evenly spaced ones
   at most), then look at every `stride`-th frame of each with the face detector;
2. reject a segment, with its reason in the curation report (never an exception), when the face is
   found in fewer than `min_found` of the looked-at frames, jumps by more than `max_jump` face widths
   between them (a cut or another person), or its crop would be under `min_face` px;
3. crop the rest to a square around the face over the whole segment (`facebox.crop_box`, the FOMM
   `crop-video` idea; or keep the whole frame with `crop='none'`, for data already cropped or
   whole-body data), resize to `resolution` and write lossless PNG frames (the FOMM layout), or with
   `encode='mp4'` one H.264 file at `crf` per clip (small enough to ship in a repository); a suite
   evaluates and tags exactly the stored frames;
4. tag each written segment with the condition axes (`tagging.Tagger`), every stored frame: the frames
   evaluation reads and `suites tag` measures (`stride` is for step 1's face checks only; tags from every
   4th frame disagreed with `suites tag` on 14 of the gating suite's clip tags);
5. draw a balanced suite across the strata of the chosen tags (`strata.stratify`).
Work per video is cached under `.qa_cache/<out stem>.build/` beside the manifest, keyed by the video's
content hash, every setting that changes the result and the tagger's code (`TAGGER_CODE`), so a rebuild
with nothing changed only re-reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa_harness.catalog import DEFAULT_AXES, DEFAULT_LANDMARKS
from qa_harness.errors import ClipError, QaHarnessError
from qa_harness.records import CropBox
from qa_harness.suites.bins import DEFAULT_BINS
from qa_harness.suites.facebox import FaceBoxes, crop_box, detect_faces
from qa_harness.suites.hashing import file_sha256, media_sha256
from qa_harness.suites.media import centre_square, crop_resize, encode_h264, iter_arrays, write_frames
from qa_harness.suites.tagging import Tagger
from qa_harness.video.io import frame_files, probe

SUITES = Path(__file__).resolve().parent

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """Curation settings; every one of them is recorded in the manifest's `generator` block."""

    max_len: int = 250
    max_segments: int | None = None  # per video, evenly spaced
    stride: int = 5
    min_found: float = 0.9
    max_jump: float = 0.5
    min_face: int = 64
    resolution: int = 256
    crop: str = "face"  # "face": square around the face; "none": the whole frame (its centre square)
    axes: tuple[str, ...] = DEFAULT_AXES
    strata: tuple[str, ...] = ("yaw", "occlusion", "lighting")
    per_stratum: int | None = None
    min_clips: int = 5  # a tag value with fewer selected clips is reported as thin
    tags: tuple[str, ...] = ()  # tags kept in the manifest (empty: every tag of the axes)
    variants: tuple[str, ...] = ()  # `suites.variants` names, e.g. occlusion.hand, pose_gap
    variants_per_op: int = 5
    encode: str = "png"  # "png": a folder of frames per clip; "mp4": one H.264 file per clip
    crf: int = 14
    media: Path | None = None  # where the clips go (default: the folder named like the manifest)
    seed: int = 0
    landmarks: str = DEFAULT_LANDMARKS
    bins: Path | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one video: accepted (reason '') with its crop and tags, or rejected with why."""

    id: str
    start: int
    stop: int
    reason: str = ""
    crop: tuple[int, int, int] | None = None
    tags: dict | None = None


def find_videos(folder: Path) -> list[Path]:
    """Videos and frame folders directly in `folder`, in name order."""
    if not folder.is_dir():
        raise QaHarnessError(f"{folder}: --videos must be a folder of videos or frame folders")
    found = [
        p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES or (p.is_dir() and frame_files(p))
    ]
    if not found:
        raise QaHarnessError(f"{folder}: no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders")
    return found


def media_name(clip_id: str, spec: BuildSpec) -> str:
    """The clip's file (mp4) or folder (png) name under the data root."""
    return f"{clip_id}.mp4" if spec.encode == "mp4" else clip_id


def write_clip(frames: np.ndarray, root: Path, clip_id: str, spec: BuildSpec, *, fps: float, first: int = 0) -> None:
    """Store one clip's frames (all of them for mp4; PNGs numbered from `first`, in parts, for png)."""
    if spec.encode == "mp4":
        root.mkdir(parents=True, exist_ok=True)
        encode_h264(frames, root / media_name(clip_id, spec), crf=spec.crf, fps=max(int(round(fps)), 1))
    else:
        write_frames(frames, root / clip_id, first=first)


def _bounds(frames: int, spec: BuildSpec) -> tuple[int, list[tuple[int, int, int]]]:
    """How many segments the video is cut into, and (index, start, stop) of those kept."""
    parts = max(1, math.ceil(frames / spec.max_len))
    edges = np.linspace(0, frames, parts + 1).round().astype(int).tolist()
    keep = range(parts)
    if spec.max_segments is not None and parts > spec.max_segments:
        keep = np.unique(np.linspace(0, parts - 1, spec.max_segments).round().astype(int)).tolist()
    return parts, [(i, edges[i], edges[i + 1]) for i in keep]


def _judge(faces: FaceBoxes, spec: BuildSpec) -> tuple[str, CropBox | None]:
    """Why a segment's face is unusable ('' if usable) and its crop box. With `crop='none'` (data that
    is already cropped, or whole-body data such as TaiChi and TED-talks) every segment is kept whole."""
    if spec.crop == "none":
        return "", centre_square(faces.width, faces.height)
    share = float(faces.found.mean()) if len(faces) else 0.0
    if share < spec.min_found:
        return f"face found in {share:.0%} of {len(faces)} checked frames (< {spec.min_found:.0%})", None
    boxes = faces.boxes[faces.found]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    widths = boxes[:, 2] - boxes[:, 0]
    jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1) / np.median(widths) if len(boxes) > 1 else [0.0]
    if np.max(jumps) > spec.max_jump:
        return f"face jumps by {np.max(jumps):.2f} face widths between checked frames (> {spec.max_jump})", None
    crop = crop_box(faces)
    if crop.size < spec.min_face:
        return f"face crop is {crop.size} px (< {spec.min_face})", None
    return "", crop


def _analyse(video: Path, clip_stem: str, spec: BuildSpec) -> list[Segment]:
    """Pass 1: segment bounds, face checks on every `stride`-th frame, crop boxes."""
    try:
        parts, bounds = _bounds(probe(video).frame_count, spec)
    except ClipError as err:
        return [Segment(clip_stem, 0, 0, reason=f"unreadable: {err}")]
    seen: list[list[np.ndarray]] = [[] for _ in bounds]
    found: list[list[np.ndarray]] = [[] for _ in bounds]
    size = (0, 0)
    try:
        for c, chunk in enumerate(iter_arrays(video, chunk=32, stride=spec.stride)):
            frames = [(c * 32 + j) * spec.stride for j in range(len(chunk))]
            owner = [next((n for n, (_, a, b) in enumerate(bounds) if a <= f < b), None) for f in frames]
            wanted = [j for j, seg in enumerate(owner) if seg is not None]  # frames of segments not kept: skipped
            if not wanted:
                continue
            faces = detect_faces(chunk[wanted])
            size = (faces.width, faces.height)
            for w, j in enumerate(wanted):
                seen[owner[j]].append(faces.boxes[w])
                found[owner[j]].append(faces.found[w])
    except ClipError as err:
        return [Segment(clip_stem, 0, 0, reason=f"unreadable: {err}")]
    segments = []
    for k, (index, start, stop) in enumerate(bounds):
        seg_id = clip_stem if parts == 1 else f"{clip_stem}.{index:03d}"
        n = len(seen[k])
        faces = FaceBoxes(
            np.array(seen[k]).reshape(n, 4), np.full((n, 6, 2), np.nan), np.ones(n), np.array(found[k], bool), *size
        )
        reason, crop = _judge(faces, spec)
        segments.append(
            Segment(seg_id, start, stop, reason, None if crop is None else (crop.left, crop.top, crop.size))
        )
    return segments


def _write(video: Path, segments: list[Segment], root: Path, spec: BuildSpec) -> None:
    """Pass 2: every frame of each accepted segment, cropped and resized, as PNGs or one mp4."""
    todo = [s for s in segments if not s.reason]
    parts: dict[str, list[np.ndarray]] = {s.id: [] for s in todo}
    index = 0
    for chunk in iter_arrays(video, chunk=32):
        for seg in todo:
            lo, hi = max(seg.start - index, 0), min(seg.stop - index, len(chunk))
            if lo < hi:
                frames = crop_resize(chunk[lo:hi], CropBox(*seg.crop), spec.resolution)
                if spec.encode == "mp4":
                    parts[seg.id].append(frames)
                else:
                    write_frames(frames, root / seg.id, first=index + lo - seg.start)
        index += len(chunk)
    if spec.encode == "mp4":
        fps = probe(video).fps
        for seg in todo:
            write_clip(np.concatenate(parts[seg.id]), root, seg.id, spec, fps=fps)


#: The code that makes a clip's tags: the tagger, its axes and the detectors they use. A change to any of
#: it makes cached curation stale (a tagger fix must reach the next build, not be served from the cache).
TAGGER_CODE = (
    *sorted((SUITES / "axes").rglob("*.py")),
    *(SUITES / f"{name}.py" for name in ("tagging", "facebox", "recrop", "hands", "held", "skin", "lips", "curate")),
    *sorted((SUITES.parent / "landmarks").glob("*.py")),
)


def _settings_key(spec: BuildSpec) -> str:
    bins = Path(spec.bins or DEFAULT_BINS)
    drawing = ("media", "strata", "per_stratum", "seed", "bins", "min_clips", "tags", "variants", "variants_per_op")
    fields = {k: v for k, v in asdict(spec).items() if k not in drawing}
    code = "".join(file_sha256(path) for path in TAGGER_CODE)
    text = json.dumps(fields, sort_keys=True, default=str) + file_sha256(bins) + code
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def curate_video(video: Path, root: Path, cache: Path, tagger: Tagger, spec: BuildSpec) -> list[Segment]:
    """Segments of one video, from the cache when its content and the settings are unchanged."""
    key = f"{media_sha256(video)[:16]}-{_settings_key(spec)}"
    cached = cache / f"{key}.json"
    if cached.exists():
        segments = [Segment(**s) for s in json.loads(cached.read_text())]
        if all(s.reason or (root / media_name(s.id, spec)).exists() for s in segments):
            log.info("%s: unchanged, from the cache", video.name)
            return segments
    segments = _analyse(video, video.stem if video.is_file() else video.name, spec)
    _write(video, segments, root, spec)
    tagged = [
        s if s.reason else replace(s, tags=dict(tagger.tag_clip(root / media_name(s.id, spec)).clip_labels))
        for s in segments
    ]
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps([asdict(s) for s in tagged], indent=1))
    return tagged
