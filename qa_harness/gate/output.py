"""Render a gate result: a plain-text table, JUnit XML (one testcase per rule x condition), Markdown
(fit for a CI step summary) and JSON. All outputs list every check, failures first, and every check
not gated with its reason (`NOT GATED: ...`): a condition the data could not support is never a
silent pass."""

from __future__ import annotations

import dataclasses
import json
import math
import xml.etree.ElementTree as ET

from qa_harness.gate.evaluate import Check, GateResult

_ORDER = {"fail": 0, "pass": 1, "skip": 2}
_LABEL = {"fail": "FAIL", "pass": "PASS", "skip": "NOT GATED"}


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _sorted(result: GateResult) -> list[Check]:
    return sorted(result.checks, key=lambda c: _ORDER[c.status])


def _row(c: Check) -> list[str]:
    direction = "" if c.higher_is_better is None else ("higher=better" if c.higher_is_better else "lower=better")
    ci = f"{_num(c.regression_low)} .. {_num(c.regression_high)}" if not math.isnan(c.regression_low) else ""
    return [
        _LABEL[c.status],
        c.rule,
        c.condition,
        str(c.n_clips),
        _num(c.candidate),
        _num(c.baseline),
        _num(c.regression),
        ci,
        _num(c.max_regression),
        _num(c.detectable, 2),
        _num(c.p_adjusted, 2),
        _num(c.threshold),
        direction,
    ]


_HEADER = [
    "status",
    "rule",
    "condition",
    "clips",
    "candidate",
    "baseline",
    "regression",
    "regression CI",
    "max regression",
    "detectable",
    "p adj",
    "threshold",
    "direction",
]


def _worst(c: Check) -> str:
    return f"; worst clips: {', '.join(c.worst_clips)}" if c.worst_clips else ""


def not_gated_lines(result: GateResult) -> list[str]:
    """`NOT GATED: rule[conditions]: reason`, one line per rule and reason (conditions joined)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in result.not_gated:
        groups.setdefault((c.rule, c.not_gated), []).append(c.condition)
    return [f"NOT GATED: {rule}[{', '.join(conds)}]: {reason}" for (rule, reason), conds in groups.items()]


def summary_line(result: GateResult) -> str:
    """How many checks failed, passed and were not gated (wholly or in their relative part)."""
    counts = {s: sum(c.status == s for c in result.checks) for s in _ORDER}
    partial = sum(c.status != "skip" for c in result.not_gated)
    return (
        f"{counts['fail']} of {len(result.checks)} checks failed, {counts['pass']} passed, {counts['skip']} not gated"
        + (f" ({partial} more gated by their threshold only)" if partial else "")
    )


def render_table(result: GateResult) -> str:
    """Aligned text table for a terminal, one line per failure with its message, then what was not gated."""
    rows = [_HEADER] + [_row(c) for c in _sorted(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        f"gate {result.policy}: {result.verdict.upper()} - candidate {result.candidate}"
        + (f" vs baseline {result.baseline}" if result.baseline else "")
        + f": {summary_line(result)}"
    )
    lines += [f"  FAIL {c.name}: {c.message}{_worst(c)}" for c in result.failures]
    lines += [f"  {line}" for line in not_gated_lines(result)]
    return "\n".join(lines)


def render_junit(result: GateResult) -> str:
    """JUnit XML: suite = the policy, one testcase per check (classname = rule, name = condition)."""
    skipped = sum(c.status == "skip" for c in result.checks)
    suite = ET.Element(
        "testsuite",
        name=f"qa_harness.gate.{result.policy}",
        tests=str(len(result.checks)),
        failures=str(len(result.failures)),
        errors="0",
        skipped=str(skipped),
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="candidate", value=result.candidate)
    ET.SubElement(props, "property", name="baseline", value=result.baseline or "")
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=c.rule, name=c.condition)
        if c.status == "fail":
            ET.SubElement(case, "failure", message=c.message, type="GateFailure").text = c.message + _worst(c)
        elif c.status == "skip":
            ET.SubElement(case, "skipped", message=f"NOT GATED: {c.not_gated}").text = c.message
        else:
            ET.SubElement(case, "system-out").text = c.message
    root = ET.Element(
        "testsuites",
        name="qa_harness gate",
        tests=suite.get("tests"),
        failures=suite.get("failures"),
        errors="0",
        skipped=str(skipped),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def md_cell(text: object) -> str:
    """Escape what would break a Markdown table cell or render as HTML in a CI summary."""
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: GateResult) -> str:
    """Markdown summary: verdict line, the failures, then a table of every check."""
    icon = "✅" if result.passed else "❌"
    lines = [
        f"## {icon} Quality gate `{md_cell(result.policy)}`: **{result.verdict.upper()}**",
        "",
        f"Candidate run `{md_cell(result.candidate)}`"
        + (f", baseline run `{md_cell(result.baseline)}`" if result.baseline else ", no baseline")
        + f". {summary_line(result)}.",
        "",
    ]
    if result.failures:
        lines += ["### Failures", ""]
        lines += [
            f"- **{md_cell(c.rule)}** on `{md_cell(c.condition)}`: {md_cell(c.message + _worst(c))}"
            for c in result.failures
        ]
        lines.append("")
    if result.not_gated:
        lines += [f"### Not gated ({len(result.not_gated)} checks)", ""]
        lines += [f"- {md_cell(line)}" for line in not_gated_lines(result)]
        lines.append("")
    lines += ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(md_cell(cell) for cell in _row(c)) + " |" for c in _sorted(result)]
    return "\n".join(lines) + "\n"


def result_to_json(result: GateResult) -> str:
    """Machine-readable result (NaN written as null)."""

    def clean(value: object) -> object:
        return None if isinstance(value, float) and math.isnan(value) else value

    checks = [{k: clean(v) for k, v in dataclasses.asdict(c).items()} for c in result.checks]
    return json.dumps(
        {
            "policy": result.policy,
            "candidate": result.candidate,
            "baseline": result.baseline,
            "verdict": result.verdict,
            "not_gated": [{"check": c.name, "reason": c.not_gated} for c in result.not_gated],
            "checks": checks,
        },
        indent=2,
    )


def _from_json(key: str, value: object) -> object:
    if key == "worst_clips":
        return tuple(value)
    if value is None and key not in ("threshold", "max_regression", "higher_is_better"):
        return math.nan  # numbers written as null
    return value


def result_from_json(text: str) -> GateResult:
    """Inverse of `result_to_json` (for the report, which reads a logged verdict)."""
    data = json.loads(text)
    checks = tuple(Check(**{k: _from_json(k, v) for k, v in c.items()}) for c in data["checks"])
    return GateResult(data["policy"], data["candidate"], data["baseline"], checks)
