"""The report's worst-clips section: each failing clip once, with every check it fails, ranked by the rule
that failed it (regression over that metric's spread between clips), frame strips (source | ground truth |
output | error, from the run's thumbnails) with eye/mouth crops where a face-region metric ran, and per-frame
curves. Split out of `build.py`, which assembles the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_harness import plots
from qa_harness.gate.evaluate import Check, GateResult
from qa_harness.report.html import Html, img, join, png, tag
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import parse_selector
from qa_harness.runs.stats import clip_regression, clip_values, frame_values, worst_clips
from qa_harness.runs.table import ALL
from qa_harness.thumbs import ThumbSource, available_frames, data_uri, region_images, strip_images

STRIP_FRAMES = 3
STRIP_KINDS = (("source", "source"), ("target", "ground truth"), ("output", "output"), ("error", "error"))


@dataclass(frozen=True, slots=True)
class _Hit:
    """One failing check a clip takes part in: the clip's regression, and that in units of the metric's
    spread between clips (comparable across metrics: a frozen-eyes clip loses many typical clip-to-clip
    differences of eye-SSIM and about one of PSNR)."""

    check: Check
    regression: float
    severity: float


def _clip_hits(
    candidate: RunRecords, baseline: RunRecords | None, gate: GateResult | None, metrics: list[str], k: int
) -> dict[str, list[_Hit]]:
    """pair id -> the failing checks it fails (its regression beyond the check's limit, or among the
    check's `k` worst without a limit), most severe first, so a clip is ranked by the rule it breaks
    most (eye-SSIM for frozen eyes, not the first rule of the policy)."""
    hits: dict[str, list[_Hit]] = {}
    reference = baseline if baseline is not None else candidate
    for check in gate.failures if gate else ():
        if check.metric not in metrics:  # failed-clips, or a metric the candidate does not have
            continue
        selector = parse_selector(check.condition).concrete
        values = clip_values(candidate, check.metric, selector)
        if baseline is not None and baseline.has_metric(check.metric) and check.max_regression is not None:
            regression = clip_regression(values, clip_values(baseline, check.metric, selector), check.higher_is_better)
            chosen = regression[regression > check.max_regression]
        else:  # absolute threshold: the `k` worst values, by how far past the threshold
            worst = worst_clips(values, None, check.higher_is_better, k).ranked
            chosen = clip_regression(values, check.threshold or 0.0, check.higher_is_better)[list(worst)]
        spread = float(clip_values(reference, check.metric).std(ddof=1)) if reference.has_metric(check.metric) else 0
        scale = spread if np.isfinite(spread) and spread > 0 else (check.max_regression or 1.0)
        for pair_id, value in chosen.items():
            hits.setdefault(pair_id, []).append(_Hit(check, float(value), float(value) / scale))
    return {p: sorted(h, key=lambda x: -x.severity) for p, h in hits.items()}


def worst_section(
    candidate: RunRecords,
    baseline: RunRecords | None,
    gate: GateResult | None,
    directions: dict[str, bool],
    thumbs: ThumbSource | None,
    k: int,
) -> Html:
    out = [tag("h2", "Worst clips of the failing checks")]
    if thumbs is None:
        out.append(
            tag(
                "p",
                "This run logged no thumbnails (artifact thumbs/), so clips are listed without frame strips.",
                class_="note",
            )
        )
    metrics = candidate.scored_metrics()
    hits = _clip_hits(candidate, baseline, gate, metrics, k)
    if not hits:
        if not metrics:
            return join(out)
        everything = parse_selector(ALL).concrete
        values = clip_values(candidate, metrics[0], everything)
        base = clip_values(baseline, metrics[0], everything) if baseline is not None else None
        ranking = worst_clips(values, base, directions[metrics[0]], k)
        out.append(tag("p", f"no failing condition: worst clips overall by {metrics[0]}", class_="note"))
        if ranking.unpaired:
            out.append(tag("p", f"not ranked, no baseline value: {', '.join(ranking.unpaired)}", class_="note"))
        for pair_id in ranking.ranked:
            out += _clip_entry(candidate, baseline, thumbs, pair_id, metrics[0], ALL, directions[metrics[0]], [])
        return join(out)
    order = sorted(hits, key=lambda p: (-hits[p][0].severity, str(p)))[: 2 * k]
    out.append(
        tag(
            "p",
            f"{len(hits)} clip(s) fail at least one check; the {len(order)} worst, each once, ranked "
            "by the check it fails most (its regression in units of the metric's spread between clips):",
            class_="note",
        )
    )
    for pair_id in order:
        lead = hits[pair_id][0].check
        out += _clip_entry(
            candidate, baseline, thumbs, pair_id, lead.metric, lead.condition, directions[lead.metric], hits[pair_id]
        )
    return join(out)


def _clip_entry(
    candidate: RunRecords,
    baseline: RunRecords | None,
    thumbs: ThumbSource | None,
    pair_id: str,
    metric: str,
    condition: str,
    higher: bool,
    hits: list[_Hit],
) -> list[Html]:
    """A clip's heading (every check it fails), its values of the ranking metric, strip and curve."""
    selector = parse_selector(condition).concrete
    value = clip_values(candidate, metric, selector).get(pair_id, math.nan)
    line = f"clip {pair_id}: ranked by {metric} on {condition}: {value:.4g}"
    if baseline is not None and baseline.has_metric(metric):
        line += f" (baseline {clip_values(baseline, metric, selector).get(pair_id, math.nan):.4g})"
    fails = ", ".join(f"{h.check.name} ({h.regression:+.3g}, {h.severity:.1f} x spread)" for h in hits)
    parts = [tag("h3", f"clip {pair_id}"), tag("p", line)]
    if fails:
        parts.append(tag("p", "fails: " + fails))
    if candidate.is_clip_metric(metric):  # one value per clip: no per-frame curve or strip
        return parts + [
            tag("p", f"{metric} is a clip-level metric: no per-frame values to pick frames by", class_="note")
        ]
    per_frame = frame_values(candidate, pair_id, metric, selector)
    curve = plots.curves(
        [(f"{pair_id}", per_frame.index.to_numpy(), per_frame.to_numpy(float))], metric=metric, higher_is_better=higher
    )
    return parts + [_strip(thumbs, pair_id, per_frame, higher), png(curve, f"{metric} per frame")]


def _strip(thumbs: ThumbSource | None, pair_id: str, per_frame: pd.Series, higher: bool) -> Html:
    pair_dir = thumbs(pair_id) if thumbs is not None else None
    frames = [f for f in available_frames(pair_dir) if f in per_frame.index]
    if not frames:
        return Html("") if thumbs is None else tag("p", "no thumbnails for this clip", class_="note")
    chosen = sorted(sorted(frames, key=lambda f: per_frame[f], reverse=not higher)[:STRIP_FRAMES])
    cells = []
    for frame in chosen:
        images = strip_images(pair_dir, frame)
        pictures = join(
            img(data_uri(images[kind]), f"{label} frame {frame}", cls="thumb")
            for kind, label in STRIP_KINDS
            if kind in images
        )
        caption = tag(
            "figcaption",
            f"frame {frame}: {per_frame[frame]:.4g} | "
            + " | ".join(label for kind, label in STRIP_KINDS if kind in images),
        )
        cells.append(tag("div", tag("figure", join([pictures, caption, _crops(pair_dir, frame)])), class_="frame"))
    return tag("div", join(cells), class_="strip")


def _crops(pair_dir, frame: int) -> Html:
    """The frame's eye/mouth crops (ground truth, output) when a face-region metric placed them."""
    regions = region_images(pair_dir, frame)
    if not regions:
        return Html("")
    pictures = join(
        img(data_uri(images[kind]), f"{region} {label} frame {frame}", cls="crop")
        for region, images in regions.items()
        for kind, label in (("target", "ground truth"), ("output", "output"))
    )
    caption = tag("figcaption", "crops (ground truth, output): " + ", ".join(regions))
    return join([tag("div", pictures, class_="crops"), caption])
