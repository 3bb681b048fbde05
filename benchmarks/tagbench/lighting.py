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

from pathlib import Path

import cv2
import numpy as np

from benchmarks.tagbench.stats import confusion, proportion, table
from qa_harness.labelled import read_manifest
from qa_harness.suites.tagging import Tagger, build_axes

FOLDER = "yale_b_cropped"
SIDE = {"image_left": "left", "image_right": "right", "frontal": "even"}
BANDS = ((0, 1), (1, 25), (25, 60), (60, 95), (95, 181))


def run(labels_root: Path) -> str:
    folder = Path(labels_root) / FOLDER
    if not (folder / "manifest.csv").is_file():
        return f"## Lighting\n\nskipped: no {folder} (Extended Yale B samples)\n"
    tagger = Tagger(build_axes(["lighting"]))
    rows = read_manifest(folder / "manifest.csv")
    azimuth = np.array([float(r["light_azimuth_deg"]) for r in rows])
    true = [SIDE[r["lit_side"]] for r in rows]
    tagged = []
    for row in rows:
        grey = cv2.imread(row["path"], cv2.IMREAD_GRAYSCALE)
        tagged.append(tagger.tag_frames(np.repeat(grey[None, :, :, None], 3, axis=3)).clip_labels["lighting_side"])
    band_rows = []
    for low, high in BANDS:
        idx = [i for i, a in enumerate(np.abs(azimuth)) if low <= a < high]
        hits = sum(tagged[i] == true[i] for i in idx)
        band_rows.append([f"{low}-{high - 1}", str(proportion(hits, len(idx))), f"{hits} of {len(idx)}"])
    side = [i for i, a in enumerate(np.abs(azimuth)) if a >= 25]
    hits = sum(tagged[i] == true[i] for i in side)
    bins = next(b for b in tagger.axes[0].bins if b.tag == "lighting_side")
    out = [
        "## Lighting side (Extended Yale B)",
        "",
        f"{len(rows)} grey faces, {len({r['subject'] for r in rows})} subjects. `lighting_side` against "
        f"the lit side; |azimuth| >= 25 degrees: **{proportion(hits, len(side))}** ({hits} of {len(side)}).",
        "",
        table(["abs azimuth (deg)", "agreement [95 % CI]", "counts"], band_rows),
        "",
        "All images, rows = lit side, columns = tag:",
        "",
        confusion(tagged, true, bins.labels),
        "",
    ]
    return "\n".join(out)
