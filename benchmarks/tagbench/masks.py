"""Masked-mouth detection on photo samples outside ../shared (`tags_bench --mask-sample DIR`).

A sample is a folder with `with_mask/` and `without_mask/` photos (labels = folder names, as the
face-mask dataset ships them; some are noisy, and are counted as labelled). Each photo is tagged by
the library's path (`Tagger.tag_clip`, the occlusion axis, own size) and `occlusion_mouth=covered` is
compared with the folder: precision, recall (Wilson 95 %) and the `face=missing` counts, one table row
per sample. The samples used for RESULTS.md are research data kept outside the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.tagbench.stats import detection, table
from qa_harness.suites.tagging import Tagger, build_axes

FOLDERS = {"with_mask": True, "without_mask": False}


def _photos(folder: Path) -> list[Path]:
    """The photos of one label folder; a missing or empty one is an error naming it."""
    photos = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    if not photos:
        raise FileNotFoundError(f"{folder}: no photos (a mask sample needs with_mask/ and without_mask/)")
    return photos


def sample_rows(samples: Sequence[Path]) -> list[list[str]]:
    """One row per sample folder: name, precision, recall, face=missing (masked / not)."""
    listed = {root: {folder: _photos(Path(root) / folder) for folder in FOLDERS} for root in samples}
    tagger = Tagger(build_axes(["occlusion"]))
    rows = []
    for root in samples:
        covered, masked, missing = [], [], {True: 0, False: 0}
        for folder, label in FOLDERS.items():
            for photo in listed[root][folder]:
                labels = tagger.tag_clip(photo).clip_labels
                covered.append(labels["occlusion_mouth"] == "covered")
                masked.append(label)
                missing[label] += labels["face"] == "missing"
        det = detection(covered, masked)
        rows.append(
            [
                f"{Path(root).name} ({sum(masked)} + {len(masked) - sum(masked)})",
                f"{det.precision} ({det.tp} of {det.tp + det.fp})",
                f"{det.recall} ({det.tp} of {det.tp + det.fn})",
                f"{missing[True]} / {missing[False]}",
            ]
        )
    return rows


def run(samples: Sequence[Path]) -> str:
    """Markdown table of `sample_rows`."""
    header = ["sample", "precision [95 % CI]", "recall [95 % CI]", "`face=missing` (masked / not)"]
    return "## Masked mouths on held-out samples\n\n" + table(header, sample_rows(samples)) + "\n"
