"""The driving clips of a suite manifest, as synthesis needs them: id, media path, crop box."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from qa_harness.errors import ConfigError
from qa_harness.records import CropBox
from qa_harness.suites.media import IMAGE_SUFFIXES


@dataclass(frozen=True, slots=True)
class SourceClip:
    id: str
    path: Path
    crop: CropBox | None


def driving_clips(manifest: Path) -> list[SourceClip]:
    """Every video or frame-folder clip of `manifest` (photos cannot drive), paths resolved."""
    try:
        data = yaml.safe_load(manifest.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(manifest, "", f"cannot read suite manifest: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        raise ConfigError(manifest, "clips", "expected a list of clips")
    root = (manifest.parent / data.get("data_root", ".")).resolve()
    clips = []
    for i, entry in enumerate(data["clips"]):
        path = root / entry["path"]
        if not path.exists():
            raise ConfigError(manifest, f"clips[{i}].path", f"file not found: {path}")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            continue
        crop = CropBox(*entry["crop"]) if "crop" in entry else None
        clips.append(SourceClip(id=str(entry["id"]), path=path, crop=crop))
    if not clips:
        raise ConfigError(manifest, "clips", "no video or frame-folder clip to synthesize from")
    return clips
