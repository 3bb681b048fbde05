"""Controlled variants of curated clips for `suites build --variants`: the rare conditions a gating
suite needs, made from its real clips so that each differs from its real clip in one thing only.

- A registered perturbation (`occlusion.hand`, `occlusion.mouth` (a mask), `occlusion.mic`,
  `lighting.darken`, ...) applied to a clip at a strength (`op:strength`, default 1), placed from the
  face's landmarks in every frame (as `suites synth` does).
- `pose_gap`: a reconstruction pair whose source is at a distant head pose. Frame 0 of a clip is the
  reconstruction source, so the variant is the clip's frames (but the last) with, in front, the frame
  of the same video (every `stride`-th, in the same crop) whose head pose is farthest from the clip's
  (median rotation over the clip's checked frames). Its first driving frame is the source itself, as
  in every reconstruction pair; every later one is a real frame of the clip.

A perturbation is applied to `variants_per_op` clips drawn from the accepted real clips by the seed;
`pose_gap` to the `variants_per_op` clips whose videos offer the largest gap. Variants are tagged
by measurement like every clip, so their conditions use the one vocabulary; the tags of the axis a
variant changes come from the variant, the others from its real clip (an occluder does not turn the
head, although a half-hidden face can fool the pose fit), and each carries the provenance tag
`variant` (`none` on real clips).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qa_harness.catalog import DEFAULT_LANDMARKS, LANDMARKS, PERTURBATIONS
from qa_harness.errors import QaHarnessError
from qa_harness.records import CropBox
from qa_harness.suites.axes.headpose import rotation_from_angles, rotation_gap
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import crop_resize, read_frames
from qa_harness.suites.perturb.base import PerturbContext
from qa_harness.suites.tagging import Tagger

log = logging.getLogger(__name__)
POSE_GAP = "pose_gap"


@dataclass(frozen=True, slots=True)
class Variant:
    """One kind of variant: a perturbation name (`<axis>.<op>`) or `pose_gap`, and its strength."""

    op: str
    strength: float = 1.0
    count: int | None = None  # clips to make it from (None: `variants_per_op`)

    @property
    def name(self) -> str:
        return self.op if self.strength == 1.0 else f"{self.op}:{self.strength:g}"

    @property
    def changes(self) -> str:
        """The bins axis group this variant changes (`occlusion`, `lighting`, `pose` for pose_gap)."""
        return "pose" if self.op == POSE_GAP else self.op.split(".", 1)[0]


def parse_variants(text: str) -> tuple[Variant, ...]:
    """`occlusion.hand,lighting.darken:0.7,occlusion.half*8,pose_gap` -> variants (`:strength`, `*count`
    clips); unknown names raise with close matches."""
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        item, _, count = item.partition("*")
        if count and not count.isdigit() or count == "0":
            raise QaHarnessError(f"--variants: count of {item!r} must be a positive integer, got {count!r}")
        op, _, strength = item.partition(":")
        if op != POSE_GAP:
            PERTURBATIONS.get(op)  # raises UnknownNameError naming close matches
        try:
            value = float(strength) if strength else 1.0
        except ValueError:
            raise QaHarnessError(f"--variants: strength of {op!r} must be a number, got {strength!r}") from None
        if not 0 < value <= 1:
            raise QaHarnessError(f"--variants: strength of {op!r} must be in (0, 1], got {value}")
        out.append(Variant(op, value, int(count) if count else None))
    return tuple(out)


def draw(clip_ids: list[str], variant: Variant, count: int, seed: int) -> list[str]:
    """`count` of the clips (all when fewer), drawn by a generator seeded by the seed and the variant."""
    ids = sorted(clip_ids)
    if len(ids) <= count:
        return ids
    rng = np.random.default_rng([seed, zlib.crc32(variant.name.encode())])
    return sorted(ids[i] for i in rng.choice(len(ids), count, replace=False))


def perturbed(frames: np.ndarray, variant: Variant, tagger: Tagger, seed: tuple[int, ...]) -> np.ndarray:
    """The clip's frames with the perturbation applied, its occluders placed from the 68 landmarks."""
    faces = detect_faces(frames)
    backend = tagger.backend or LANDMARKS.build(DEFAULT_LANDMARKS, device=torch.device("cpu"))
    marks = backend.detect(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    faces = faces.refined(marks.points.numpy(), marks.found.numpy()).filled()
    return PERTURBATIONS.build(variant.op, frames, variant.strength, PerturbContext(faces=faces, seed=seed))


def _rotations(tagger: Tagger, frames: np.ndarray) -> list[np.ndarray | None]:
    """Head rotation of each frame (None without a face), from the tagger's pose axis."""
    axis = next((a for a in tagger.axes if a.name == "pose"), None)
    if axis is None:
        raise QaHarnessError("--variants pose_gap needs the pose axis in --axes")
    m = axis.measure(tagger.observe(frames))
    angles = np.stack([m["yaw"], m["pitch"], m["roll"]], axis=1)
    return [None if np.isnan(a).any() else rotation_from_angles(*a) for a in angles]


def _pose_gap_variants(
    clips: dict[str, tuple[Path, Path, CropBox]], count: int, resolution: int, stride: int, tagger: Tagger
) -> list[tuple[str, np.ndarray, float]]:
    """The `count` clips whose videos offer the farthest source pose: (clip id, frames with that frame
    of the video, in the clip's crop, put first, its median rotation in degrees from the clip's frames)."""
    found = []
    for video in sorted({v for _, v, _ in clips.values()}):
        native = read_frames(video, stride=stride)  # one video's checked frames at a time
        for clip_id in sorted(i for i, (_, v, _) in clips.items() if v == video):
            media, _, crop = clips[clip_id]
            frames = read_frames(media)
            own = [r for r in _rotations(tagger, frames[::stride]) if r is not None]
            candidates = crop_resize(native, crop, resolution)
            gaps = [
                float(np.median([rotation_gap(r, o) for o in own])) if r is not None and own else -1.0
                for r in _rotations(tagger, candidates)
            ]
            best = int(np.argmax(gaps))
            if gaps[best] >= 0:
                found.append((clip_id, np.concatenate([candidates[best : best + 1], frames[:-1]]), gaps[best]))
            else:
                log.warning("%s: no frame with a head pose for a pose-gap variant", clip_id)
    return sorted(sorted(found, key=lambda f: -f[2])[:count], key=lambda f: f[0])


def make_variants(
    clips: dict[str, tuple[Path, Path, CropBox]],
    variants: tuple[Variant, ...],
    *,
    per_op: int,
    seed: int,
    resolution: int,
    stride: int,
    tagger: Tagger,
    write,
) -> list[tuple[str, str, str]]:
    """Write every variant: `clips` maps a real clip id to (its media, its video, its crop); `write(id,
    frames)` stores a clip. Perturbations go to `count` (else `per_op`) clips drawn by the seed;
    `pose_gap` to those with the largest pose gap on offer. Returns (variant id, real clip id, variant name)."""
    made = []
    for variant in variants:
        new_id = f"{{}}~{variant.name.replace(':', '@')}"
        if variant.op == POSE_GAP:
            for clip_id, frames, gap in _pose_gap_variants(clips, variant.count or per_op, resolution, stride, tagger):
                log.info("%s: source frame %.0f degrees from the clip's poses", new_id.format(clip_id), gap)
                write(new_id.format(clip_id), frames)
                made.append((new_id.format(clip_id), clip_id, variant.name))
            continue
        for clip_id in draw(list(clips), variant, variant.count or per_op, seed):
            key = (seed, zlib.crc32(new_id.format(clip_id).encode()))
            write(new_id.format(clip_id), perturbed(read_frames(clips[clip_id][0]), variant, tagger, key))
            made.append((new_id.format(clip_id), clip_id, variant.name))
    return made
