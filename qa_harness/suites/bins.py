"""Bins that turn an axis's measurements into condition labels, read from `suites/bins.yaml`.

Bins live in a config file, not in code: a team moves a threshold without touching the harness, and
the bins file is part of what a suite's version hashes. Each tag of an axis names the measurement it
bins, the statistic that summarises a clip, and ordered labels with upper edges: a value gets the
first label whose edge is above it (`null` = no edge, the last label). A NaN value (no face found)
gets `UNKNOWN`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from qa_harness.errors import ConfigError
from qa_harness.packaged import BINS

#: The bins shipped with the package (`suites/bins.yaml` in a checkout).
DEFAULT_BINS = BINS
UNKNOWN = "unknown"
CLIP_STATISTICS = ("median", "mean", "min", "max", "p10", "p90")


@dataclass(frozen=True, slots=True)
class TagBins:
    """One condition tag: measurement `measure`, clip summary `clip`, labels with upper edges."""

    tag: str
    source: Path  # the bins file, for error messages
    measure: str
    clip: str
    labels: tuple[str, ...]
    uppers: tuple[float, ...]

    def label(self, value: float) -> str:
        if math.isnan(value):
            return UNKNOWN
        for name, upper in zip(self.labels, self.uppers, strict=True):
            if value < upper:
                return name
        return self.labels[-1]

    def summarise(self, values: np.ndarray) -> float:
        """The clip's value: `clip` statistic over frames, NaN frames left out (NaN if all are)."""
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return math.nan
        if self.clip in ("p10", "p90"):
            return float(np.percentile(values, int(self.clip[1:])))
        return float(getattr(np, self.clip)(values))


def _tag_bins(path: Path, where: str, tag: str, spec: object) -> TagBins:
    if not isinstance(spec, Mapping):
        raise ConfigError(path, where, f"expected a mapping with measure, clip, bins; got {spec!r}")
    unknown = set(spec) - {"measure", "clip", "bins"}
    if unknown:
        raise ConfigError(path, where, f"unknown keys {sorted(unknown)}; expected measure, clip, bins")
    measure, clip, bins = spec.get("measure"), spec.get("clip", "median"), spec.get("bins")
    if not isinstance(measure, str):
        raise ConfigError(path, f"{where}.measure", "missing or not a string")
    if clip not in CLIP_STATISTICS:
        raise ConfigError(path, f"{where}.clip", f"'{clip}' is not one of {', '.join(CLIP_STATISTICS)}")
    if not isinstance(bins, Mapping) or len(bins) < 2:
        raise ConfigError(path, f"{where}.bins", "expected a mapping of at least two labels to upper edges")
    labels = tuple(str(k) for k in bins)
    edges = list(bins.values())
    if edges[-1] is not None:
        raise ConfigError(path, f"{where}.bins.{labels[-1]}", "the last label's edge must be null")
    if UNKNOWN in labels:
        raise ConfigError(path, f"{where}.bins", f"'{UNKNOWN}' is reserved for frames without a value")
    try:
        uppers = tuple(float(e) for e in edges[:-1]) + (math.inf,)
    except (TypeError, ValueError) as err:
        raise ConfigError(path, f"{where}.bins", f"edges must be numbers: {edges}") from err
    if any(b <= a for a, b in zip(uppers[:-1], uppers[1:], strict=True)):
        raise ConfigError(path, f"{where}.bins", f"edges must increase: {edges}")
    return TagBins(tag=tag, source=path, measure=measure, clip=clip, labels=labels, uppers=uppers)


def load_bins(path: Path | None = None) -> dict[str, tuple[TagBins, ...]]:
    """Axis name -> its tags' bins, validated; `path` defaults to the shipped `suites/bins.yaml`."""
    path = Path(path) if path is not None else DEFAULT_BINS
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(path, "", f"cannot read bins file: {err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(path, "", f"not valid YAML: {err}") from err
    return parse_bins(data, path)


def parse_bins(data: object, path: Path) -> dict[str, tuple[TagBins, ...]]:
    """Validate bins given as data (a bins file's content, or a manifest's `bins` block from `path`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, "", "expected a mapping of axis -> tag -> bins")
    axes: dict[str, tuple[TagBins, ...]] = {}
    for axis, tags in data.items():
        if not isinstance(tags, Mapping) or not tags:
            raise ConfigError(path, str(axis), "expected a mapping of tag -> {measure, clip, bins}")
        axes[str(axis)] = tuple(_tag_bins(path, f"{axis}.{tag}", str(tag), spec) for tag, spec in tags.items())
    return axes
