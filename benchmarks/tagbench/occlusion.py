"""Occlusion tags against labelled photos: masks (face_mask), hands and a microphone (hand_over_face).

Each photo is tagged by the library's own path (`Tagger.tag_clip`, the `occlusion` axis, the shipped
bins), as `qa-harness suites tag` does. Reported: `occlusion_mouth=covered` against
`mouth_nose_covered` (precision, recall, Wilson 95 % intervals), the mouth tag of each hand photo,
and how many faces with nothing over them read occluded on any occlusion tag. Two `without_mask`
photos do have something over the face (seen by eye, listed in `NOT_CLEAN`): they count in the
precision as the label says, and are left out of the "nothing over them" count.
The rules were written from what masks, hands and skin are (`qa_harness/suites/skin.py`), then
their two constants (`skin.BRIGHT`, the 0.25 edge) were checked on these same photos: there is no
separate held-out set, so the intervals are the honest width of what is known.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.tagbench.stats import detection, proportion, table
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
    return f"{m['mouth']:.2f} ({m['mouth_object']:.2f} / {m['hand_at_mouth']:.0f})"


def run(labels_root: Path) -> str:
    masks, hands = Path(labels_root) / "face_mask", Path(labels_root) / "hand_over_face"
    if not (masks / "manifest.csv").is_file() or not (hands / "manifest.csv").is_file():
        return f"## Occlusion\n\nskipped: no {masks} or {hands} (labelled face-mask and hand photos)\n"
    tagger = Tagger(build_axes(["occlusion"]))
    rows = read_manifest(masks / "manifest.csv")
    tagged = {row["file"]: tagger.tag_clip(Path(row["path"])) for row in rows}
    truth = [row["mouth_nose_covered"] == "1" for row in rows]
    mouth = [tagged[row["file"]].clip_labels["occlusion_mouth"] == "covered" for row in rows]
    det = detection(mouth, truth)
    missing = [f for f, t in tagged.items() if t.clip_labels["face"] == "missing"]
    clean = [f for f, covered in zip(tagged, truth, strict=True) if not covered and f not in NOT_CLEAN]
    false_alarms = {f: occluded_tags(tagged[f]) for f in clean if occluded_tags(tagged[f])}
    masked_misses = [f for f, covered, hit in zip(tagged, truth, mouth, strict=True) if covered and not hit]
    out = [
        "## Occlusion (face_mask, hand_over_face)",
        "",
        f"`occlusion_mouth=covered` against `mouth_nose_covered` on {len(rows)} photos "
        f"({sum(truth)} masked); Wilson 95 % intervals; `face=missing` counts as not covered.",
        "",
        table(
            ["", "value [95 % CI]", "counts"],
            [
                ["precision", str(det.precision), f"{det.tp} of {det.tp + det.fp} tagged covered"],
                ["recall", str(det.recall), f"{det.tp} of {det.tp + det.fn} masked"],
            ],
        ),
        "",
        f"Masked photos not tagged covered: {', '.join(masked_misses) or 'none'}; "
        f"`face=missing`: {', '.join(missing) or 'none'}.",
        "",
        f"Faces with nothing over them tagged occluded (any occlusion tag): {len(false_alarms)} of "
        f"{len(clean)} ({', '.join(f'{f}: {v}' for f, v in false_alarms.items()) or 'none'}); "
        f"left out by eye: {'; '.join(f'{f} ({why})' for f, why in NOT_CLEAN.items())}.",
        "",
    ]
    hand_rows = []
    for row in read_manifest(hands / "manifest.csv"):
        tags = tagger.tag_clip(Path(row["path"]))
        expected = "covered" if row["file"] in MOUTH_COVERED else "(not required)"
        hand_rows.append(
            [row["file"], row["note_by_eye"], expected, tags.clip_labels["occlusion_mouth"], _measures(tags)]
            + [tags.clip_labels["occlusion_hand"], tags.clip_labels["occlusion"]]
        )
    header = ["photo", "what", "mouth expected", "occlusion_mouth", "mouth (object / pose hand)"]
    out += [table([*header, "occlusion_hand", "occlusion"], hand_rows), ""]
    hits = sum(r[3] == "covered" for r in hand_rows if r[0] in MOUTH_COVERED)
    out += [f"Mouth-covered hand photos tagged covered: {proportion(hits, len(MOUTH_COVERED))}.", ""]
    return "\n".join(out)
