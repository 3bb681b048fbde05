"""Occlusion tags against labelled photos: masks (face_mask), hands and a microphone (hand_over_face).

Each photo is tagged by the library's own path (`Tagger.tag_clip`, the `occlusion` axis, the shipped
bins), as `qa-harness suites tag` does. Reported: `occlusion_mouth=covered` against
`mouth_nose_covered` (precision, recall, Wilson 95 % intervals), the mouth tag of each hand photo,
and how many faces with nothing over them read occluded on any occlusion tag. Two `without_mask`
photos do have something over the face (seen by eye, listed in `NOT_CLEAN`): they count in the
precision as the label says, and are left out of the "nothing over them" count.
The rules were written from what masks, hands and skin are (`qa_harness/suites/skin.py`), then
their two constants (`skin.BRIGHT`, the 0.25 edge) were checked on these same photos: there is no
separate held-out set for the masks, so the intervals are the honest width of what is known. The
AFLW2000 faces (`aflw2000_subset`, no masks; not looked at when the rules were written, except
image00082, the false alarm that moved the region read) are a held-out set for false alarms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.tagbench.stats import Detection, detection, proportion, table
from qa_harness.labelled import read_manifest
from qa_harness.suites.tagging import ClipTags, Tagger, build_axes

#: without_mask photos with something over the face, by eye.
NOT_CLEAN = {
    "without_mask/410.jpg": "a finger at the lower lip",
    "without_mask/2020-06-23-120048__another_copy_.jpg": "a hand over the nose",
}
#: hand_over_face photos whose mouth is covered (README of the labels: 25, both hands over mouth and
#: nose; 27, a microphone at the mouth). 21 and 23 have a hand on the cheek or chin.
MOUTH_COVERED = {"rgb/25.jpg", "rgb/27.jpg"}
#: AFLW2000 photos with something at the mouth, by eye.
AFLW_NOT_CLEAN = {"image00002.jpg": "a bead chain between gold-painted lips"}
OCCLUDED = {"occlusion": ("none",), "occlusion_hand": ("none",), "occlusion_mouth": ("visible",)}


def occluded_tags(tags: ClipTags) -> list[str]:
    """The occlusion tags of a photo that read occluded (`face=missing` and `unknown` are not)."""
    return [
        f"{tag}={tags.clip_labels[tag]}"
        for tag, clear in OCCLUDED.items()
        if tags.clip_labels[tag] not in (*clear, "unknown")
    ]


def _measures(tags: ClipTags) -> str:
    m = {k.removeprefix("occlusion."): float(v[0]) for k, v in tags.measures.items()}
    return f"{m['mouth']:.2f} ({m['mouth_object']:.2f} / {m['hand_at_mouth']:.0f} / {m['held_object']:.2f})"


@dataclass(frozen=True, slots=True)
class OcclusionResult:
    """Per-photo tags of both folders and the mask detection counts (what `run` prints, for tests)."""

    masks: Detection
    mask_tags: dict[str, ClipTags]
    masked: dict[str, bool]
    hand_tags: dict[str, ClipTags]
    hand_notes: dict[str, str]

    @property
    def masked_misses(self) -> list[str]:
        return [
            f for f, m in self.masked.items() if m and self.mask_tags[f].clip_labels["occlusion_mouth"] != "covered"
        ]

    @property
    def missing(self) -> list[str]:
        return [f for f, t in self.mask_tags.items() if t.clip_labels["face"] == "missing"]

    @property
    def clean(self) -> list[str]:
        return [f for f, m in self.masked.items() if not m and f not in NOT_CLEAN]

    @property
    def false_alarms(self) -> dict[str, list[str]]:
        return {f: occluded_tags(self.mask_tags[f]) for f in self.clean if occluded_tags(self.mask_tags[f])}


def available(labels_root: Path) -> bool:
    root = Path(labels_root)
    return (root / "face_mask" / "manifest.csv").is_file() and (root / "hand_over_face" / "manifest.csv").is_file()


def evaluate(labels_root: Path) -> OcclusionResult:
    """Tag every photo of `face_mask` and `hand_over_face` under `labels_root`."""
    tagger = Tagger(build_axes(["occlusion"]))
    masks = read_manifest(Path(labels_root) / "face_mask" / "manifest.csv")
    mask_tags = {row["file"]: tagger.tag_clip(Path(row["path"])) for row in masks}
    masked = {row["file"]: row["mouth_nose_covered"] == "1" for row in masks}
    covered = [mask_tags[f].clip_labels["occlusion_mouth"] == "covered" for f in masked]
    hands = read_manifest(Path(labels_root) / "hand_over_face" / "manifest.csv")
    return OcclusionResult(
        masks=detection(covered, list(masked.values())),
        mask_tags=mask_tags,
        masked=masked,
        hand_tags={row["file"]: tagger.tag_clip(Path(row["path"])) for row in hands},
        hand_notes={row["file"]: row["note_by_eye"] for row in hands},
    )


def aflw_mouths(labels_root: Path) -> dict[str, ClipTags]:
    """`occlusion` tags of every AFLW2000 photo (none has a mask; empty when the folder is absent)."""
    images = Path(labels_root) / "aflw2000_subset" / "images"
    tagger = Tagger(build_axes(["occlusion"]))
    return {p.name: tagger.tag_clip(p) for p in sorted(images.glob("*.jpg"))}


def _held_out(labels_root: Path) -> str:
    tags = aflw_mouths(labels_root)
    if not tags:
        return "AFLW2000 held-out clean faces: skipped (no aflw2000_subset)."
    clean = {f: t for f, t in tags.items() if f not in AFLW_NOT_CLEAN and t.clip_labels["face"] != "missing"}
    covered = [f"{f} ({_measures(t)})" for f, t in clean.items() if t.clip_labels["occlusion_mouth"] == "covered"]
    others = [f"{f}: {occluded_tags(t)}" for f, t in clean.items() if occluded_tags(t)]
    return (
        f"AFLW2000 (held out, no masks): {len(covered)} of {len(clean)} faces found tagged "
        f"`occlusion_mouth=covered` ({', '.join(covered) or 'none'}); any occlusion tag: "
        f"{'; '.join(others) or 'none'}; left out by eye: "
        f"{'; '.join(f'{f} ({why})' for f, why in AFLW_NOT_CLEAN.items())}."
    )


def run(labels_root: Path) -> str:
    if not available(labels_root):
        return f"## Occlusion\n\nskipped: no face_mask or hand_over_face labels under {labels_root}\n"
    r = evaluate(labels_root)
    det = r.masks
    out = [
        "## Occlusion (face_mask, hand_over_face)",
        "",
        f"`occlusion_mouth=covered` against `mouth_nose_covered` on {len(r.masked)} photos "
        f"({sum(r.masked.values())} masked); Wilson 95 % intervals; `face=missing` counts as not covered.",
        "",
        table(
            ["", "value [95 % CI]", "counts"],
            [
                ["precision", str(det.precision), f"{det.tp} of {det.tp + det.fp} tagged covered"],
                ["recall", str(det.recall), f"{det.tp} of {det.tp + det.fn} masked"],
            ],
        ),
        "",
        f"Masked photos not tagged covered: {', '.join(r.masked_misses) or 'none'}; "
        f"`face=missing`: {', '.join(r.missing) or 'none'}.",
        "",
        f"Faces with nothing over them tagged occluded (any occlusion tag): {len(r.false_alarms)} of "
        f"{len(r.clean)} ({', '.join(f'{f}: {v}' for f, v in r.false_alarms.items()) or 'none'}); "
        f"left out by eye: {'; '.join(f'{f} ({why})' for f, why in NOT_CLEAN.items())}.",
        "",
        _held_out(labels_root),
        "",
    ]
    hand_rows = []
    for file, tags in r.hand_tags.items():
        expected = "covered" if file in MOUTH_COVERED else "(not required)"
        labels = tags.clip_labels
        hand_rows.append([file, r.hand_notes[file], expected, labels["occlusion_mouth"], _measures(tags)])
        hand_rows[-1] += [labels["occlusion_hand"], labels["occlusion"]]
    header = ["photo", "what", "mouth expected", "occlusion_mouth", "mouth (object / pose hand / held)"]
    out += [table([*header, "occlusion_hand", "occlusion"], hand_rows), ""]
    hits = sum(row[3] == "covered" for row in hand_rows if row[0] in MOUTH_COVERED)
    out += [f"Mouth-covered hand photos tagged covered: {proportion(hits, len(MOUTH_COVERED))}.", ""]
    return "\n".join(out)
