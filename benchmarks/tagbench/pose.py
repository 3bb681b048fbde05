"""Head-pose tags against AFLW2000-3D labels: per-angle error and bias, binned-label confusion.

Each valid image (all raw angles within 99 degrees) is tagged by the library's own path
(`Tagger.tag_clip` with the `pose` axis and the shipped bins), so the figures are those of
`qa-harness suites tag`. The true angles get the same bins as the tags, so the confusion tables
say how often an image lands in the wrong stratum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.tagbench.stats import confusion, errors, table
from qa_harness.labelled import PoseSample, load_aflw2000
from qa_harness.suites.tagging import Tagger, build_axes

FOLDER = "aflw2000_subset"
ANGLES = ("yaw", "pitch", "roll")


def true_measure(sample: PoseSample, measure: str) -> float:
    """The labelled value of a pose measurement: `yaw`, `pitch`, `roll` or their `abs_` forms."""
    name = measure.removeprefix("abs_")
    value = getattr(sample, name)
    return abs(value) if measure.startswith("abs_") else value


def measure_all(samples: list[PoseSample]) -> tuple[Tagger, dict[str, np.ndarray], dict[str, list[str]]]:
    """Tag every sample with the pose axis: measurement -> values, tag -> labels (one per sample)."""
    tagger = Tagger(build_axes(["pose"]))
    measures: dict[str, list[float]] = {}
    labels: dict[str, list[str]] = {}
    for sample in samples:
        tags = tagger.tag_clip(sample.image)
        for key, values in tags.measures.items():
            measures.setdefault(key.removeprefix("pose."), []).append(float(values[0]))
        for tag, frame_labels in tags.frame_labels.items():
            labels.setdefault(tag, []).append(frame_labels[0])
    return tagger, {k: np.array(v) for k, v in measures.items()}, labels


def run(labels_root: Path) -> str:
    folder = Path(labels_root) / FOLDER
    if not folder.is_dir():
        return f"## Head pose\n\nskipped: no {folder} (AFLW2000-3D samples)\n"
    samples = load_aflw2000(folder)
    valid = [s for s in samples if s.valid]
    tagger, measures, labels = measure_all(valid)
    rows = []
    for angle in ANGLES:
        err = errors(measures[angle], [getattr(s, angle) for s in valid])
        rows.append([angle, str(err.mae), str(err.bias), err.mae.n, err.missing])
    out = [
        "## Head pose (AFLW2000-3D)",
        "",
        f"{len(valid)} valid of {len(samples)} images in {folder.name}; estimate minus label, degrees, "
        "95 % bootstrap intervals (seed 0); `no face` images are left out of the means.",
        "",
        table(["angle", "mean abs error", "bias", "n", "no face"], rows),
    ]
    for bins in tagger.axes[0].bins:
        if bins.measure.removeprefix("abs_") not in ANGLES:
            continue  # pose_gap has no label
        true = [bins.label(true_measure(s, bins.measure)) for s in valid]
        out += ["", f"Tag `{bins.tag}` (bins of `{bins.measure}`):", "", confusion(labels[bins.tag], true, bins.labels)]
    return "\n".join(out) + "\n"
