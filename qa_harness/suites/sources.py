"""The driving clips of a suite manifest: what synthesis perturbs (photos cannot drive)."""

from __future__ import annotations

from pathlib import Path

from qa_harness.errors import ConfigError
from qa_harness.records import Clip
from qa_harness.suites.manifest import load_suite


def driving_clips(manifest: Path) -> list[Clip]:
    """The distinct driving clips of `manifest`'s pairs, in manifest order, validated by `load_suite`."""
    suite = load_suite(manifest, probe_media=False)
    clips = list({p.driving.id: p.driving for p in suite.pairs}.values())
    if not clips:
        raise ConfigError(manifest, "pairs", "no driving clip to synthesize from")
    return clips
