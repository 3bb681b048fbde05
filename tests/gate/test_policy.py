"""Policy loading: the shipped default is valid, and every malformed policy names file, rule, key, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_harness.errors import ConfigError
from qa_harness.gate.policy import load_policy
from qa_harness.gate.selectors import Selector, Term, parse_selector

ROOT = Path(__file__).resolve().parents[2]

GOOD_RULE = """version: 1
rules:
  - name: ssim-mean
    metric: ssim
    max_regression: 0.01
"""


def test_default_policy_loads_with_directions_from_the_registry():
    policy = load_policy(ROOT / "gates" / "default.yaml")
    by_name = {r.name: r for r in policy.rules}
    assert by_name["ssim-mean"].higher_is_better and by_name["psnr-mean"].higher_is_better
    assert not by_name["l1-mean"].higher_is_better and not by_name["lpips-mean"].higher_is_better
    assert policy.statistics.resamples == 2000 and policy.statistics.confidence == 0.95
    assert [s.text for s in by_name["ssim-mean"].conditions] == ["all", "each"]


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            GOOD_RULE.replace("metric: ssim", "metric: sssim"),
            "rules[0] (ssim-mean).metric (line 4)",
            "unknown metric 'sssim'",
        ),
        (
            GOOD_RULE + "    aggregate: p50\n",
            "rules[0] (ssim-mean).aggregate (line 6)",
            "'p50' is not one of",
        ),
        (
            GOOD_RULE + "    conditions: [all, 'pose=extreme&&occ']\n",
            "rules[0] (ssim-mean).conditions (line 6)",
            "bad condition term",
        ),
        (
            GOOD_RULE + "    treshold: 0.5\n",
            "rules[0] (ssim-mean).treshold (line 6)",
            "unknown key 'treshold'",
        ),
        (
            GOOD_RULE.replace("max_regression: 0.01", "max_regression: lots"),
            "rules[0] (ssim-mean).max_regression (line 5)",
            "expected float, got 'lots'",
        ),
        (
            GOOD_RULE.replace("max_regression: 0.01", "max_regression: -0.01"),
            "rules[0] (ssim-mean).max_regression (line 5)",
            "must be >= 0",
        ),
        (
            GOOD_RULE.replace("    max_regression: 0.01\n", ""),
            "rules[0] (ssim-mean) (line 3)",
            "needs 'threshold' (absolute) and/or 'max_regression'",
        ),
        (
            GOOD_RULE + "statistics: {method: jackknife}\n",
            "statistics.method (line 6)",
            "'jackknife' is not one of",
        ),
        (
            GOOD_RULE + "statistics: {confidence: 1.5}\n",
            "statistics.confidence (line 6)",
            "must be in [0.5, 1)",
        ),
        (
            GOOD_RULE.replace("version: 1", "version: 2"),
            "policy.version (line 1)",
            "unsupported policy version",
        ),
        (GOOD_RULE + GOOD_RULE.split("rules:\n")[1], "rules[ssim-mean] (line 6)", "duplicate rule name"),
        ("version: 1\nrules: []\n", "policy.rules (line 2)", "at least one rule"),
        ("version: 1\nrules:\n  - [ssim]\n", "rules[0] (line 3)", "expected a mapping, got list"),
        ("version: 1\nrules: {a: [}\n", "line 2, column 13", "not valid YAML"),
        ("", "", "policy file is empty"),
    ],
)
def test_malformed_policy_names_file_rule_key_and_line(tmp_path, text, where, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    err = info.value
    assert err.path == str(path) and err.where == where and problem in err.problem, str(err)
    assert str(err).startswith(f"{path}: ")


def test_missing_policy_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_selector_grammar():
    spec = parse_selector("pose=extreme & occlusion!=none")
    assert spec.concrete == Selector((Term("pose", True, "extreme"), Term("occlusion", False, "none")))
    assert str(spec.concrete) == "pose=extreme&occlusion!=none"
    assert spec.concrete.slug == "pose_extreme_occlusion_not_none"
    assert parse_selector("pose=*").expand_axis == "pose" and parse_selector("each").expand_axis == "*"
    assert str(parse_selector("all").concrete) == "all"
