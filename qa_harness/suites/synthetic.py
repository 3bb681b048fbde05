"""Synthetic suites: real clips with one condition changed at controlled severity levels.

`synthesize` reads the driving clips of a suite, crops each to a square around the face (the
manifest's crop box, else one computed from face detections), resizes it, and writes, per clip, the
unchanged clip (severity 0) and one clip per perturbation of the chosen axis and severity level
1..L (strength level / L). Frames are lossless PNGs in one folder per clip (the FOMM dataset
layout), next to a suite manifest whose tags record axis, perturbation and severity, and whose
`generator` block records everything the output depends on (seed included).

The perturbation applies to the clip itself, so under the reconstruction protocol (source = the
clip's own frame 0) the ground truth stays consistent with the source. Same inputs and seed give
byte-identical files: no time stamps, seeded randomness, single-threaded encoders.
"""

from __future__ import annotations

import logging
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from qa_harness.catalog import DEFAULT_LANDMARKS, LANDMARKS, PERTURBATIONS
from qa_harness.errors import ConfigError, QaHarnessError
from qa_harness.landmarks.base import LandmarkBackend
from qa_harness.records import Clip, CropBox
from qa_harness.suites.facebox import FaceBoxes, crop_box, detect_faces
from qa_harness.suites.media import crop_resize, read_frames, write_frames
from qa_harness.suites.perturb.base import PerturbContext
from qa_harness.suites.sources import driving_clips

log = logging.getLogger(__name__)

#: Marks a data folder as written by `synthesize`, which may then replace it.
MARKER = ".qa_harness_synth"


@dataclass(frozen=True, slots=True)
class SynthSpec:
    """What to generate: `axis` (lighting, occlusion, geometry, compression), its perturbations
    (`ops`, empty = all registered for the axis), `levels` severities, seed, output size, frames."""

    axis: str
    levels: int = 3
    ops: tuple[str, ...] = ()
    seed: int = 0
    resolution: int = 256
    max_frames: int | None = 40

    def perturbations(self) -> tuple[str, ...]:
        """Perturbation names of the axis, validated against the registry."""
        known = tuple(n.split(".", 1)[1] for n in PERTURBATIONS.names() if n.startswith(self.axis + "."))
        if not known:
            axes = sorted({n.split(".", 1)[0] for n in PERTURBATIONS.names()})
            raise QaHarnessError(f"no synthetic axis '{self.axis}'; known: {', '.join(axes)}")
        for op in self.ops:
            PERTURBATIONS.get(f"{self.axis}.{op}")  # unknown names raise with close matches
        return self.ops or known

    def validate(self) -> None:
        if self.levels < 1:
            raise QaHarnessError(f"--levels must be at least 1, got {self.levels}")
        if self.resolution < 16 or self.resolution % 2:
            raise QaHarnessError(f"--resolution must be even and at least 16, got {self.resolution}")
        self.perturbations()


@dataclass(frozen=True, slots=True)
class BaseClip:
    """A source clip cropped and resized: the frames every perturbation starts from."""

    source: Clip
    frames: np.ndarray
    faces: FaceBoxes
    crop: CropBox


def prepare(clip: Clip, spec: SynthSpec, landmarks: LandmarkBackend) -> BaseClip:
    """Decode, detect faces, crop (manifest box, else around the faces), resize; face parts from the
    68 landmarks of the resized frames where found (else the detector's keypoints, else the fallback
    face box of `facebox.FALLBACK_BOX`)."""
    native = read_frames(clip.path, max_frames=spec.max_frames)
    faces = detect_faces(native)
    if not faces.found.any():
        log.warning("%s: no face found; occluders use the fixed fallback face box", clip.path)
    box = clip.crop or crop_box(faces)
    frames = crop_resize(native, box, spec.resolution)
    marks = landmarks.detect(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    faces = faces.cropped(box, spec.resolution).refined(marks.points.numpy(), marks.found.numpy())
    return BaseClip(clip, frames, faces.filled(), box)


def _clip_seed(seed: int, *parts: object) -> tuple[int, int]:
    return seed, zlib.crc32("/".join(map(str, parts)).encode())


def _prepare_folder(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise QaHarnessError(
                f"{folder}: folder exists and was not written by 'suites synth'; choose another --out or empty it"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("written by qa_harness.suites.synthetic; replaced on every run\n")


def synthesize(source: Path, spec: SynthSpec, out: Path) -> Path:
    """Generate the suite of `spec` from the driving clips of manifest `source`; write the manifest
    `out` and its frames under the folder of the same name without `.yaml`. Returns `out`."""
    spec.validate()
    ops = spec.perturbations()
    if out.suffix != ".yaml":
        raise ConfigError(out, "", "the output manifest must end in .yaml")
    data_root = out.with_suffix("")
    clips = driving_clips(source)
    landmarks = LANDMARKS.build(DEFAULT_LANDMARKS, device=torch.device("cpu"))
    _prepare_folder(data_root)
    entries, crops = [], {}
    for clip in clips:
        base = prepare(clip, spec, landmarks)
        crops[clip.id] = [base.crop.left, base.crop.top, base.crop.size]
        write_frames(base.frames, data_root / clip.id)
        entries.append(_entry(clip.id, clip.id, spec.axis, "none", 0))
        for op in ops:
            perturb = PERTURBATIONS.get(f"{spec.axis}.{op}")
            for level in range(1, spec.levels + 1):
                ctx = PerturbContext(faces=base.faces, seed=_clip_seed(spec.seed, clip.id, op, level))
                frames = perturb(base.frames, level / spec.levels, ctx)
                if frames.shape != base.frames.shape or frames.dtype != np.uint8:
                    raise QaHarnessError(
                        f"perturbation {spec.axis}.{op} returned {frames.dtype} "
                        f"{frames.shape}, expected uint8 {base.frames.shape}"
                    )
                clip_id = f"{clip.id}.{op}.{level}"
                write_frames(frames, data_root / clip_id)
                entries.append(_entry(clip_id, clip.id, spec.axis, op, level))
        log.info("%s: %d frames, %d perturbed copies", clip.id, len(base.frames), len(ops) * spec.levels)
    manifest = {
        "name": out.stem,
        "description": f"Synthetic {spec.axis} suite: {', '.join(ops)} at {spec.levels} severity levels.",
        "data_root": data_root.name,
        "resolution": spec.resolution,
        "generator": {
            "tool": "qa_harness.suites.synthetic",
            "from": Path(os.path.relpath(source.resolve(), out.resolve().parent)).as_posix(),
            "axis": spec.axis,
            "ops": list(ops),
            "levels": spec.levels,
            "strengths": {level: round(level / spec.levels, 4) for level in range(1, spec.levels + 1)},
            "seed": spec.seed,
            "max_frames": spec.max_frames,
            "landmarks": f"{landmarks.name} {landmarks.version}",
            "crops": crops,
        },
        "clips": entries,
    }
    out.write_text(yaml.safe_dump(manifest, sort_keys=False, width=110))
    return out


def _entry(clip_id: str, source_id: str, axis: str, op: str, level: int) -> dict:
    tags = {"synth_axis": axis, "synth_op": op, "severity": str(level), "source_clip": source_id}
    return {"id": clip_id, "path": clip_id, "tags": tags}
