"""Lighting tags against Extended Yale B: the side-light tag against the light source's azimuth.

Yale B photographs each face under one point light at a known azimuth and elevation (in the file
name; `manifest.csv` of the labels). Azimuth > 0 lights the image-left side of the face (`lit_side`,
README of the labels), which must read `lighting_side=left`. Each grey image is tagged by the
library's own path (`Tagger.tag_frames`, the `lighting` axis, the shipped bins; `.pgm` is not a
media type of the harness, so the benchmark decodes it). Reported per |azimuth| band, with Wilson
95 % intervals: agreement of the side tag with the lit side, and the side of frontal light (azimuth
0) that should read `even`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.tagbench.stats import confusion, proportion, table
from qa_harness.labelled import read_manifest
from qa_harness.suites.bins import load_bins
from qa_harness.suites.tagging import Tagger, build_axes

FOLDER = "yale_b_cropped"
SIDE = {"image_left": "left", "image_right": "right", "frontal": "even"}
BANDS = ((0, 1), (1, 25), (25, 60), (60, 95), (95, 181))
#: |azimuth| from which the side is the issue's target (>= 90 % agreement).
SIDE_LIT = 25


@dataclass(frozen=True, slots=True)
class SideResult:
    """Per image: light azimuth (degrees), the lit side's expected tag, the `lighting_side` tag."""

    azimuth: np.ndarray
    true: list[str]
    tagged: list[str]
    subjects: int

    def agreement(self, low: float, high: float = 181.0) -> tuple[int, int]:
        """(agreeing, images) with low <= |azimuth| < high."""
        idx = [i for i, a in enumerate(np.abs(self.azimuth)) if low <= a < high]
        return sum(self.tagged[i] == self.true[i] for i in idx), len(idx)


def available(labels_root: Path) -> bool:
    return (Path(labels_root) / FOLDER / "manifest.csv").is_file()


def evaluate(labels_root: Path) -> SideResult:
    """Tag the side light of every Yale B image under `labels_root`."""
    tagger = Tagger(build_axes(["lighting"]))
    rows = read_manifest(Path(labels_root) / FOLDER / "manifest.csv")
    tagged = []
    for row in rows:
        grey = cv2.imread(row["path"], cv2.IMREAD_GRAYSCALE)
        tags = tagger.tag_frames(np.repeat(grey[None, :, :, None], 3, axis=3))
        tagged.append(tags.clip_labels["lighting_side"])
    azimuth = np.array([float(r["light_azimuth_deg"]) for r in rows])
    true = [SIDE[r["lit_side"]] for r in rows]
    return SideResult(azimuth, true, tagged, len({r["subject"] for r in rows}))


def run(labels_root: Path) -> str:
    if not available(labels_root):
        return f"## Lighting\n\nskipped: no {Path(labels_root) / FOLDER} (Extended Yale B samples)\n"
    r = evaluate(labels_root)
    band_rows = []
    for low, high in BANDS:
        hits, n = r.agreement(low, high)
        band_rows.append([f"{low}-{high - 1}", str(proportion(hits, n)), f"{hits} of {n}"])
    hits, n = r.agreement(SIDE_LIT)
    labels = next(b for b in load_bins()["lighting"] if b.tag == "lighting_side").labels
    out = [
        "## Lighting side (Extended Yale B)",
        "",
        f"{len(r.true)} grey faces, {r.subjects} subjects. `lighting_side` against the lit side; "
        f"abs azimuth >= {SIDE_LIT} degrees: **{proportion(hits, n)}** ({hits} of {n}).",
        "",
        table(["abs azimuth (deg)", "agreement [95 % CI]", "counts"], band_rows),
        "",
        "All images, rows = lit side, columns = tag:",
        "",
        confusion(r.tagged, r.true, labels),
        "",
    ]
    return "\n".join(out)
