"""Build the self-contained HTML report of one run (optionally against a baseline and a gate verdict).

Reads records only. Sections: header, gate verdict, metric x condition heat map, per-condition
tables with pass/fail, worst-K clips of each failing condition with frame strips (source | ground
truth | output | error heat map, from the run's thumbnails when it logged any; eye and mouth crops
where a face-region metric ran) and per-frame curves, per-clip metric distributions, and every clip
with its status.
"""

from __future__ import annotations

import math

import pandas as pd

from qa_harness import plots
from qa_harness.gate.evaluate import Check, GateResult
from qa_harness.gate.output import not_gated_lines
from qa_harness.report.html import Html, esc, join, page, png, status, table, tag
from qa_harness.report.worst import worst_section
from qa_harness.runs.records import RunRecords
from qa_harness.runs.stats import clip_rows, clip_values
from qa_harness.runs.table import ALL, condition_label, condition_table
from qa_harness.thumbs import ThumbSource


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
        worst_section(candidate, baseline, gate, directions, thumbs, worst_k),
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
    if ranges := candidate.output_out_of_range():
        listed = ", ".join(f"{pair_id} {fraction:.2%}" for pair_id, fraction in list(ranges.items())[:5])
        rows.append(
            (
                "output out of range",
                f"{len(ranges)} clip(s) with values outside [0, 1], clamped before scoring: {listed}"
                + (" ..." if len(ranges) > 5 else ""),
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
        png(
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
            png(
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
            png(plots.distributions(samples, title="per-clip means"), "distributions"),
        ]
    )


def _clips(candidate: RunRecords) -> Html:
    metrics = candidate.frame_metrics()
    clip_level = [m for m in candidate.clip_metrics() if m not in metrics]  # one value per clip (ear_mar's F1, ...)
    ranges = candidate.output_out_of_range()
    headers = ["clip", "status", "conditions", "error", "out of [0, 1]", *metrics, *clip_level]
    rows = [
        [
            row.pair_id,
            status("pass" if row.status == "ok" else "fail"),
            ", ".join(f"{a}={v}" for a, v in row.conditions.items()),  # a clip's condition: its frames' most common
            row.errors,
            f"{ranges[row.pair_id]:.2%}" if row.pair_id in ranges else "",
            *row.frame_means.values(),
            *row.clip_values.values(),
        ]
        for row in clip_rows(candidate)
    ]
    return join(
        [
            tag("h2", f"All clips ({len(rows)})"),
            tag(
                "details",
                join(
                    [
                        tag("summary", "show every clip with its status, per-clip means and clip-level scores"),
                        table(headers, rows, text_columns=4),
                    ]
                ),
            ),
        ]
    )
