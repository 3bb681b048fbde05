"""Build the self-contained HTML report of one run (optionally against a baseline and a gate verdict).

Reads records only. Sections: header, gate verdict, metric x condition heat map, per-condition
tables with pass/fail, worst-K clips of each failing condition with frame strips (source | ground
truth | output | error heat map, from the run's thumbnails when it logged any; eye and mouth crops
where a face-region metric ran) and per-frame curves, per-clip metric distributions, and every clip
with its status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qa_harness import plots
from qa_harness.gate.evaluate import Check, GateResult
from qa_harness.gate.output import not_gated_lines
from qa_harness.records import COND_PREFIX, METRIC_ERRORS, METRIC_PREFIX, condition_columns, metric_columns
from qa_harness.report.html import Html, esc, img, join, page, status, table, tag
from qa_harness.runs.records import RunRecords
from qa_harness.runs.selectors import parse_selector
from qa_harness.runs.stats import clip_conditions, clip_means, clip_values, worst_clips
from qa_harness.runs.table import ALL, condition_label, condition_table
from qa_harness.thumbs import ThumbSource, available_frames, data_uri, region_images, strip_images

STRIP_FRAMES = 3
STRIP_KINDS = (("source", "source"), ("target", "ground truth"), ("output", "output"), ("error", "error"))


def _png(data: bytes, alt: str) -> Html:
    return img(data_uri(data, "image/png"), alt)


def build_report(
    candidate: RunRecords,
    *,
    baseline: RunRecords | None = None,
    gate: GateResult | None = None,
    thumbs: ThumbSource | None = None,
    worst_k: int = 3,
    seed: int = 0,
) -> str:
    """The report as one HTML string (images as data URIs; nothing fetched when it is opened)."""
    metrics = candidate.scored_metrics()  # descriptive columns are listed per clip only
    directions = {m: candidate.direction(m) for m in metrics}
    table_c = condition_table(candidate, seed=seed).frame()
    table_c = table_c[table_c["metric"].isin(metrics)]
    # the baseline's means only: no bootstrap CIs
    table_b = condition_table(baseline, seed=None).frame() if baseline is not None else None
    parts = [
        _header(candidate, baseline),
        _verdict(gate),
        _heatmap(table_c, table_b, directions),
        _conditions(table_c, table_b, gate),
        _worst(candidate, baseline, gate, directions, thumbs, worst_k),
        _distributions(candidate, baseline),
        _clips(candidate),
    ]
    return page(f"qa-harness report: {candidate.name}", join(parts))


def _header(candidate: RunRecords, baseline: RunRecords | None) -> Html:
    rows = [
        ("run", f"{candidate.name} ({candidate.run_id})"),
        ("suite", f"{candidate.suite} @ {candidate.suite_version}"),
    ]
    rows += [(k, v) for k, v in sorted(candidate.params.items()) if k not in ("suite", "suite_version")]
    rows += [(k, v) for k, v in sorted(candidate.metrics.items()) if k.startswith(("perf/", "unscored/"))]
    if errors := candidate.metric_errors():
        listed = "; ".join(f"{pair_id}: {why}" for pair_id, why in list(errors.items())[:3])
        rows.append(
            (
                "metric errors",
                f"{len(errors)} clip(s), those metrics NaN there: {listed}" + (" ..." if len(errors) > 3 else ""),
            )
        )
    if baseline is not None:
        rows.append(("baseline", f"{baseline.name} ({baseline.run_id})"))
    return join([tag("h1", f"Quality report: {candidate.name}"), table(["", ""], rows, text_columns=2)])


def _verdict(gate: GateResult | None) -> Html:
    if gate is None:
        return join(
            [
                tag("h2", "Gate verdict"),
                tag(
                    "p", "No gate verdict: run `qa-harness report` with --policy, or gate the run first.", class_="note"
                ),
            ]
        )
    not_gated = (
        [
            tag("h3", f"Not gated ({len(gate.not_gated)} checks)"),
            tag("ul", join(tag("li", line) for line in not_gated_lines(gate))),
        ]
        if gate.not_gated
        else []
    )
    if not gate.decided:
        note = f"No verdict: every check of policy {gate.policy} was skipped (see the tables below for why)."
        return join([tag("h2", "Gate verdict"), tag("p", note, class_="note"), *not_gated])
    failures = [tag("li", join([tag("b", c.name), esc(": " + c.message)])) for c in gate.failures]
    return join(
        [
            tag("h2", "Gate verdict"),
            tag(
                "div",
                f"{gate.verdict.upper()}: policy {gate.policy}, {len(gate.failures)} of {len(gate.checks)} "
                "checks failed" + (f", baseline {gate.baseline}" if gate.baseline else ""),
                class_=f"verdict {gate.verdict}",
            ),
            tag("ul", join(failures)) if failures else Html(""),
            *not_gated,
        ]
    )


def _wide(table_: pd.DataFrame, column: str) -> pd.DataFrame:
    labels = [condition_label(a, v) for a, v in zip(table_["axis"], table_["value"], strict=True)]
    labelled = table_.assign(condition=labels)
    wide = labelled.pivot(index="metric", columns="condition", values=column)
    return wide[[ALL] + sorted(c for c in wide.columns if c != ALL)]


def _heatmap(table_c: pd.DataFrame, table_b: pd.DataFrame | None, directions: dict[str, bool]) -> Html:
    if table_c.empty:
        return Html("")
    means = _wide(table_c, "mean")
    figures = [
        _png(
            plots.heatmap(
                means,
                title="candidate mean per condition (colour: row z-score, green = better)",
                colours=_row_scores(means, directions),
            ),
            "heat map",
        )
    ]
    if table_b is not None:
        base = _wide(table_b, "mean").reindex(index=means.index, columns=means.columns)
        change = means - base  # in metric units: a % change is undefined where the baseline is 0 (l1, akd)
        sign = pd.Series({m: 1.0 if directions[m] else -1.0 for m in change.index})
        scale = change.abs().max(axis=1).replace(0.0, 1.0)
        figures.append(
            _png(
                plots.heatmap(
                    change,
                    title="candidate - baseline (colour: scaled per row, green = better)",
                    colours=change.mul(sign, axis=0).div(scale, axis=0),
                ),
                "change heat map",
            )
        )
    return join([tag("h2", "Metric x condition"), *figures])


def _row_scores(means: pd.DataFrame, directions: dict[str, bool]) -> pd.DataFrame:
    centred = means.sub(means.mean(axis=1), axis=0).div(means.std(axis=1).replace(0, 1.0), axis=0)
    return centred.mul(pd.Series({m: 1.0 if directions[m] else -1.0 for m in means.index}), axis=0)


def _conditions(table_c: pd.DataFrame, table_b: pd.DataFrame | None, gate: GateResult | None) -> Html:
    checks: dict[tuple[str, str], list[Check]] = {}
    for check in gate.checks if gate else ():
        checks.setdefault((check.metric, check.condition), []).append(check)
    base = table_b.set_index(["metric", "axis", "value"])["mean"] if table_b is not None else None
    out = [tag("h2", "Per condition")]
    for (axis, value), group in table_c.groupby(["axis", "value"], sort=False):
        label = condition_label(axis, value)
        rows = []
        for r in group.itertuples(index=False):
            own = checks.get((r.metric, label), [])
            verdicts = join(
                join([status(c.status), esc(f" {c.rule} "), tag("span", c.message, class_="note"), Html("<br>")])
                for c in own
            )
            rows.append(
                [
                    r.metric,
                    r.clips,
                    r.mean,
                    r.median,
                    r.p10,
                    r.p90,
                    f"{r.ci_low:.4g} .. {r.ci_high:.4g}",
                    base.get((r.metric, axis, value), math.nan) if base is not None else math.nan,
                    verdicts,
                ]
            )
        any_fail = any(c.status == "fail" for m in group["metric"] for c in checks.get((m, label), []))
        title = join([esc(label + " "), status("fail") if any_fail else Html("")])
        out += [
            tag("h3", title),
            table(["metric", "clips", "mean", "median", "p10", "p90", "95% CI", "baseline mean", "gate"], rows),
        ]
    return join(out)


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
        badness = -values if check.higher_is_better else values
        if baseline is not None and baseline.has_metric(check.metric) and check.max_regression is not None:
            base = clip_values(baseline, check.metric, selector)
            regression = (badness - (-base if check.higher_is_better else base)).dropna()
            chosen = regression[regression > check.max_regression]
        else:  # absolute threshold: the worst values, by how far past the threshold
            bound = check.threshold or 0.0
            regression = badness - (-bound if check.higher_is_better else bound)
            chosen = regression.sort_values(ascending=False, kind="stable")[:k]
        spread = float(clip_values(reference, check.metric).std(ddof=1)) if reference.has_metric(check.metric) else 0
        scale = spread if np.isfinite(spread) and spread > 0 else (check.max_regression or 1.0)
        for pair_id, value in chosen.items():
            hits.setdefault(pair_id, []).append(_Hit(check, float(value), float(value) / scale))
    return {p: sorted(h, key=lambda x: -x.severity) for p, h in hits.items()}


def _worst(
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
    frames = candidate.frames[(candidate.frames["pair_id"] == pair_id) & selector.mask(candidate.frames)]
    per_frame = frames.set_index("frame")[METRIC_PREFIX + metric].sort_index()
    curve = plots.curves(
        [(f"{pair_id}", per_frame.index.to_numpy(), per_frame.to_numpy(float))], metric=metric, higher_is_better=higher
    )
    return parts + [_strip(thumbs, pair_id, per_frame, higher), _png(curve, f"{metric} per frame")]


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


def _distributions(candidate: RunRecords, baseline: RunRecords | None) -> Html:
    samples = {}
    for metric in candidate.scored_metrics():
        series = {"candidate": clip_values(candidate, metric).to_numpy(float)}
        if baseline is not None and baseline.has_metric(metric):
            series["baseline"] = clip_values(baseline, metric).to_numpy(float)
        samples[metric] = series
    if not samples:
        return Html("")
    return join(
        [
            tag("h2", "Per-clip distributions"),
            _png(plots.distributions(samples, title="per-clip means"), "distributions"),
        ]
    )


def _clips(candidate: RunRecords) -> Html:
    frames = candidate.frames
    metrics = metric_columns(frames)
    means = clip_means(frames)
    axes = condition_columns(frames)
    conds = clip_conditions(frames) if axes else None  # a clip's condition: its frames' most common value
    clips = candidate.clips if candidate.clips is not None else pd.DataFrame({"pair_id": means.index, "status": "ok"})
    rows = []
    for record in clips.to_dict("records"):
        pair_id = record["pair_id"]
        tags = (
            ", ".join(f"{a}={conds.at[pair_id, COND_PREFIX + a]}" for a in axes)
            if (conds is not None and pair_id in conds.index)
            else ""
        )
        values = [means.at[pair_id, METRIC_PREFIX + m] if pair_id in means.index else np.nan for m in metrics]
        rows.append(
            [
                pair_id,
                status("pass" if record["status"] == "ok" else "fail"),
                tags,
                "; ".join(e for e in (record.get("error"), record.get(METRIC_ERRORS)) if isinstance(e, str) and e),
                *values,
            ]
        )
    return join(
        [
            tag("h2", f"All clips ({len(rows)})"),
            tag(
                "details",
                join(
                    [
                        tag("summary", "show every clip with its status and per-clip means"),
                        table(["clip", "status", "conditions", "error", *metrics], rows, text_columns=4),
                    ]
                ),
            ),
        ]
    )
