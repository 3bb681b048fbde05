"""Command-line front ends of the suite tools, wired under `qa-harness suites` by `qa_harness/cli.py`:
`synth` (synthetic suites), `tag` (measured conditions) and `build` (curation of raw videos)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from qa_harness.catalog import DEFAULT_AXES, DEFAULT_LANDMARKS, PERTURBATIONS
from qa_harness.suites.build import build_suite, card_path, report_path
from qa_harness.suites.conditions import conditions_path
from qa_harness.suites.curate import BuildSpec
from qa_harness.suites.synthetic import SynthSpec, synthesize
from qa_harness.suites.tag_suite import tag_suite
from qa_harness.suites.variants import parse_variants


def add_synth_parser(subparsers: argparse._SubParsersAction) -> None:
    """`synth`: generate a synthetic suite (wired under `qa-harness suites`)."""
    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic suite with one condition at severity levels",
        description="Perturb the driving clips of a suite along one condition axis at severity levels "
        "1..L (plus the unchanged clip, severity 0); write lossless PNG frames and a manifest.",
    )
    p.add_argument("--from", dest="source", type=Path, required=True, help="suite manifest to read clips from")
    axes = sorted({n.split(".", 1)[0] for n in PERTURBATIONS.names()})
    p.add_argument("--axis", required=True, choices=axes, help="condition to vary")
    p.add_argument("--levels", type=int, default=3, help="severity levels (default 3)")
    p.add_argument("--ops", default="", help="comma-separated perturbations of the axis (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random perturbations (default 0)")
    p.add_argument("--resolution", type=int, default=256, help="side of the square output frames (default 256)")
    p.add_argument("--max-frames", type=int, default=40, help="frames per clip, 0 = all (default 40)")
    p.add_argument("--out", type=Path, required=True, help="manifest to write; frames go in its folder")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(args: argparse.Namespace) -> int:
    spec = SynthSpec(
        axis=args.axis,
        levels=args.levels,
        ops=tuple(o for o in args.ops.split(",") if o),
        seed=args.seed,
        resolution=args.resolution,
        max_frames=args.max_frames or None,
    )
    out = synthesize(args.source, spec, args.out)
    count = len(yaml.safe_load(out.read_text())["clips"])
    print(f"wrote {out} ({count} clips, frames in {out.with_suffix('')})")
    return 0


def add_tag_parser(subparsers: argparse._SubParsersAction) -> None:
    """`tag`: measure conditions of a suite's clips (wired under `qa-harness suites`)."""
    p = subparsers.add_parser(
        "tag",
        help="tag a suite's clips with measured lighting, pose and occlusion",
        description="Measure condition axes on every clip of a manifest; write a tagged manifest and "
        "its per-frame conditions (<out>.conditions.parquet).",
    )
    p.add_argument("manifest", type=Path, help="suite manifest to tag")
    p.add_argument("--out", type=Path, required=True, help="tagged manifest to write")
    p.add_argument("--axes", default=",".join(DEFAULT_AXES), help=f"default {','.join(DEFAULT_AXES)}")
    p.add_argument("--bins", type=Path, help="bins file (default: suites/bins.yaml)")
    p.add_argument("--landmarks", default=DEFAULT_LANDMARKS, help=f"landmark backend (default {DEFAULT_LANDMARKS})")
    p.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    axes = tuple(a for a in args.axes.split(",") if a)
    out = tag_suite(args.manifest, args.out, axes=axes, bins_path=args.bins, landmarks=args.landmarks)
    print(f"wrote {out} and {conditions_path(out)}")
    return 0


def add_build_parser(subparsers: argparse._SubParsersAction) -> None:
    """`build`: curate raw videos into a suite (wired under `qa-harness suites`)."""
    d = BuildSpec()
    p = subparsers.add_parser(
        "build",
        help="curate folders of raw videos into a stratified suite",
        description="Detect the face through each video, cut it into clips, reject unusable ones (with the "
        "reason, in <out>.curation.yaml), crop and tag the rest, and draw a balanced suite across strata.",
    )
    p.add_argument(
        "--videos",
        type=Path,
        action="append",
        required=True,
        help="folder of videos or FOMM-layout frame folders (repeat it to curate several folders into one suite)",
    )
    p.add_argument("--out", type=Path, required=True, help="manifest to write; clips go in its folder")
    p.add_argument("--per-stratum", type=int, help="clips drawn per stratum (default: all)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"sampling seed (default {d.seed})")
    p.add_argument(
        "--strata", default=",".join(d.strata), help=f"tags that define strata (default {','.join(d.strata)})"
    )
    p.add_argument("--axes", default=",".join(d.axes), help=f"condition axes to tag (default {','.join(d.axes)})")
    p.add_argument("--max-len", type=int, default=d.max_len, help=f"frames per clip at most (default {d.max_len})")
    p.add_argument("--stride", type=int, default=d.stride, help=f"check every n-th frame (default {d.stride})")
    p.add_argument("--resolution", type=int, default=d.resolution, help=f"clip frame size (default {d.resolution})")
    p.add_argument(
        "--crop",
        choices=("face", "none"),
        default=d.crop,
        help="'face': square crop around the face, reject faceless clips (default); 'none': keep "
        "whole frames (already-cropped or whole-body data such as TaiChi, TED-talks)",
    )
    p.add_argument("--max-segments", type=int, help="evenly spaced clips per video at most (default: all)")
    p.add_argument(
        "--min-found",
        type=float,
        default=d.min_found,
        help=f"reject a clip whose face is found in fewer checked frames (default {d.min_found})",
    )
    p.add_argument(
        "--max-jump",
        type=float,
        default=d.max_jump,
        help=f"reject a clip whose face jumps more face widths between checked frames (default {d.max_jump})",
    )
    p.add_argument(
        "--min-face", type=int, default=d.min_face, help=f"reject face crops under this many px (default {d.min_face})"
    )
    p.add_argument("--tags", default="", help="condition tags kept in the manifest (default: every tag of --axes)")
    p.add_argument(
        "--variants",
        default="",
        help="controlled variants of the accepted clips, e.g. "
        "occlusion.hand,occlusion.mouth,occlusion.mic,lighting.darken:0.7,pose_gap (see suites/variants.py)",
    )
    p.add_argument(
        "--variants-per-op",
        type=int,
        default=d.variants_per_op,
        help=f"clips each variant is made from (default {d.variants_per_op})",
    )
    p.add_argument(
        "--min-clips",
        type=int,
        default=d.min_clips,
        help=f"warn when a condition value has fewer clips (default {d.min_clips}, the default policy's)",
    )
    p.add_argument(
        "--encode",
        choices=("png", "mp4"),
        default=d.encode,
        help="store clips as PNG folders (lossless, default) or H.264 mp4 files (small, to ship)",
    )
    p.add_argument("--crf", type=int, default=d.crf, help=f"H.264 quality with --encode mp4 (default {d.crf})")
    p.add_argument("--media", type=Path, help="folder for the clips (default: the manifest's name without .yaml)")
    p.add_argument("--bins", type=Path, help="bins file (default: suites/bins.yaml)")
    p.set_defaults(func=_cmd_build)


def _cmd_build(args: argparse.Namespace) -> int:
    spec = BuildSpec(
        max_len=args.max_len,
        crop=args.crop,
        stride=args.stride,
        resolution=args.resolution,
        per_stratum=args.per_stratum,
        seed=args.seed,
        axes=tuple(a for a in args.axes.split(",") if a),
        strata=tuple(s for s in args.strata.split(",") if s),
        bins=args.bins,
        max_segments=args.max_segments,
        min_found=args.min_found,
        max_jump=args.max_jump,
        min_face=args.min_face,
        tags=tuple(t for t in args.tags.split(",") if t),
        variants=tuple(v for v in args.variants.split(",") if v),
        variants_per_op=args.variants_per_op,
        min_clips=args.min_clips,
        encode=args.encode,
        crf=args.crf,
        media=args.media,
    )
    parse_variants(args.variants)  # unknown names fail before any work
    out = build_suite(args.videos, args.out, spec)
    print(f"wrote {out} (report: {report_path(out)}, card: {card_path(out)})")
    return 0
