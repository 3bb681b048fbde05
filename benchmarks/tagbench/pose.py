"""Head-pose tags against AFLW2000-3D labels: per-angle error and bias, binned-label confusion,
looking-down detection and a leave-one-out check of the one calibrated constant.

Each valid image (all raw angles within 99 degrees) goes through the library's path (`Tagger`
observe, the `pose` axis, the shipped bins) at its own size (450 px) and as a default suite feeds it
(evaluation's decoder at 256 px, as `qa-harness suites tag` does), each with the default backend's
3-D mesh (the tagger) and with its 68 points only (the PnP fallback that dlib and FAN get). The
true angles get the same bins as the tags, so the confusion tables say how often an image lands in
the wrong stratum. The angles are not calibrated; the `down` edge of the pitch bins
is: `down_edge` is the rule that chose it, run on all images and left-one-out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.tagbench.stats import confusion, detection, errors, proportion, table
from qa_harness.labelled import PoseSample, load_aflw2000
from qa_harness.landmarks.base import Landmarks
from qa_harness.suites.axes.base import Observation
from qa_harness.suites.media import read_frames
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.video.io import iter_frames_uint8

FOLDER = "aflw2000_subset"
ANGLES = ("yaw", "pitch", "roll")
#: Faces looking down by at least this much (true pitch, degrees) must be tagged `down`.
DOWN = -10.0
#: Faces within this much of level (true |pitch|) should not be.
LEVEL = 5.0
#: Share of looking-down faces the `down` edge must catch (8 of 9 here).
DOWN_RECALL = 0.85
EDGES = np.arange(-10.0, 0.5, 1.0)
RESOLUTION = 256  # a suite's default evaluation resolution (suites/manifest.py)


def true_measure(sample: PoseSample, measure: str) -> float:
    """The labelled value of a pose measurement: `yaw`, `pitch`, `roll` or their `abs_` forms."""
    name = measure.removeprefix("abs_")
    value = getattr(sample, name)
    return abs(value) if measure.startswith("abs_") else value


def measure_all(tagger: Tagger, samples: list[PoseSample], *, mesh: bool, resolution: int | None) -> tuple[dict, dict]:
    """Pose-tag every sample (one frame each): measurement -> values, tag -> labels. `mesh=False`
    drops the backend's 3-D mesh, so the axis falls back to PnP on the 68 points; `resolution`
    None: the image at its own size, else through evaluation's decoder at that size."""
    axis = tagger.axes[0]
    measures: dict[str, list[float]] = {}
    labels: dict[str, list[str]] = {}
    for sample in samples:
        frames = (
            read_frames(sample.image)
            if resolution is None
            else next(iter_frames_uint8(sample.image, resolution=resolution))
        )
        obs = tagger.observe(frames)
        if not mesh:
            m = obs.landmarks
            obs = Observation(obs.frames, obs.faces, Landmarks(m.points, m.found, m.confidence))
        tags = axis.label(axis.finish(axis.measure(obs)))
        for key, values in tags.measures.items():
            measures.setdefault(key, []).append(float(values[0]))
        for tag, frame_labels in tags.frame_labels.items():
            labels.setdefault(tag, []).append(frame_labels[0])
    return {k: np.array(v) for k, v in measures.items()}, labels


def down_edge(pitch: np.ndarray, truth: np.ndarray) -> float:
    """The rule that set the `down` edge: the lowest edge of `EDGES` (fewest false `down`s) at which
    at least `DOWN_RECALL` of the faces with true pitch <= `DOWN` read below it (NaN: no face)."""
    down = truth <= DOWN
    for edge in EDGES:
        if (pitch[down] < edge).mean() >= DOWN_RECALL:
            return float(edge)
    return float(EDGES[-1])


def down_rows(pitch: np.ndarray, truth: np.ndarray, shipped: float) -> list[list[object]]:
    """Looking-down detection at the shipped edge, at the rule's edge, and left-one-out (each image
    classified by the edge the rule picks on the other images)."""
    found = ~np.isnan(pitch)
    p, t = pitch[found], truth[found]
    loo = np.array([down_edge(np.delete(p, i), np.delete(t, i)) for i in range(len(p))])
    rows = []
    for name, edges in (
        (f"shipped edge {shipped:g}", np.full(len(p), shipped)),
        (f"rule on all images: {down_edge(p, t):g}", np.full(len(p), down_edge(p, t))),
        (f"rule left-one-out: edges {loo.min():g} to {loo.max():g}", loo),
    ):
        d = detection(p < edges, t <= DOWN)
        level = np.abs(t) < LEVEL
        wrong = int((p[level] < edges[level]).sum())
        rows.append([name, f"{d.tp}/{d.tp + d.fn}", d.recall, f"{wrong}/{level.sum()}", proportion(wrong, level.sum())])
    return rows


def run(labels_root: Path) -> str:
    folder = Path(labels_root) / FOLDER
    if not folder.is_dir():
        return f"## Head pose\n\nskipped: no {folder} (AFLW2000-3D samples)\n"
    samples = load_aflw2000(folder)
    valid = [s for s in samples if s.valid]
    tagger = Tagger(build_axes(["pose"]))
    runs = {
        (method, size): measure_all(tagger, valid, mesh=method == "mesh fit (tagger)", resolution=size)
        for method in ("mesh fit (tagger)", "PnP on 68 points (dlib, FAN)")
        for size in (None, RESOLUTION)
    }
    rows = []
    for (method, size), (values, _) in runs.items():
        for angle in ANGLES:
            err = errors(values[angle], [getattr(s, angle) for s in valid])
            rows.append([method, size or "450 (own)", angle, err.mae, err.bias, err.mae.n, err.missing])
    pitch_bins = next(b for b in tagger.axes[0].bins if b.measure == "pitch")
    truth = np.array([s.pitch for s in valid])
    down = [
        [f"{size or 450} px, {name}", *rest]
        for size in (None, RESOLUTION)
        for name, *rest in down_rows(runs[("mesh fit (tagger)", size)][0]["pitch"], truth, pitch_bins.uppers[0])
    ]
    measures, labels = runs[("mesh fit (tagger)", RESOLUTION)]
    out = [
        "## Head pose (AFLW2000-3D)",
        "",
        f"{len(valid)} valid of {len(samples)} images in {folder.name}; estimate minus label, degrees, "
        "95 % bootstrap intervals (seed 0); `no face` images are left out of the means.",
        "",
        table(["method", "px", "angle", "mean abs error", "bias", "n", "no face"], rows),
        "",
        f"Looking down (true pitch <= {DOWN:g}) tagged `down` (pitch below the edge), and faces within "
        f"{LEVEL:g} degrees of level wrongly tagged `down`, by the mesh fit; Wilson 95 % intervals; "
        "faces found only:",
        "",
        table(["down edge", "looking down found", "recall", "level tagged down", "rate"], down),
        "",
        f"Confusion of binned labels, mesh fit at {RESOLUTION} px (what `suites tag` gives):",
    ]
    for bins in tagger.axes[0].bins:
        if bins.measure.removeprefix("abs_") not in ANGLES:
            continue  # pose_gap has no label
        true = [bins.label(true_measure(s, bins.measure)) for s in valid]
        out += ["", f"Tag `{bins.tag}` (bins of `{bins.measure}`):", "", confusion(labels[bins.tag], true, bins.labels)]
    return "\n".join(out) + "\n"
