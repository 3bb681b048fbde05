"""One condition vocabulary: manifests and policies use the names and values of suites/bins.yaml;
unknown ones are errors at file:line with a suggestion, and `suites validate --policy` says before any
run which checks of a policy a suite supports (exit 0 all, 1 some not, 2 error)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qa_harness.errors import ConfigError
from qa_harness.suites.bins import load_bins
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.vocabulary import default_vocabulary
from tests.helpers.media import REPO

YAW_BINS = {"measure": "abs_yaw", "clip": "p90", "bins": {"frontal": 15, "moderate": 35, "extreme": None}}
CLIPS = ("d20", "tpsmm_driving", "vrt_face5", "lp_d11", "d12", "lp_s32")


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", *map(str, args)], capture_output=True, text=True, cwd=REPO
    )


def _policy(tmp_path: Path, conditions: list[str], min_clips: int = 2) -> Path:
    path = tmp_path / "policy.yaml"
    rules = [{"name": "ssim-mean", "metric": "ssim", "conditions": conditions, "max_regression": 0.01}]
    path.write_text(yaml.safe_dump({"version": 1, "min_clips": min_clips, "rules": rules}, sort_keys=False))
    return path


def _rows(stdout: str) -> dict[str, list[str]]:
    """The support table (after the manifest line and the header, before the summary): condition -> rest."""
    return {line.split()[1]: line.split(maxsplit=4)[2:] for line in stdout.splitlines()[2:-1]}


def _suite(write_suite, yaws: tuple[str, ...]) -> Path:
    clips = [{"id": c, "path": f"clips/{c}.mp4", "tags": {"yaw": y}} for c, y in zip(CLIPS, yaws, strict=False)]
    return write_suite({"name": "v", "max_frames": 2, "clips": clips})


def test_vocabulary_is_every_tag_and_label_of_the_bins_file():
    vocabulary, bins = default_vocabulary(), load_bins()
    for tags in bins.values():
        for b in tags:
            assert vocabulary.values[b.tag] == (*b.labels, "unknown")
    assert vocabulary.groups["pose"] == tuple(b.tag for b in bins["pose"])
    assert vocabulary.problem("yaw", "extreme") is None and vocabulary.problem("source_clip", "any id") is None


@pytest.mark.parametrize(
    ("tags", "where", "problem"),
    [
        (
            {"pose": "extreme"},
            "clips[0].tags.pose",
            "'pose' is an axis group, not a condition: did you mean 'yaw=extreme'?",
        ),
        ({"yaw": "extrme"}, "clips[0].tags.yaw", "'extrme' is not a value of 'yaw'; did you mean 'extreme'?"),
        ({"lightning": "dim"}, "clips[0].tags.lightning", "unknown condition 'lightning'. Did you mean 'lighting'?"),
        ({"occlusion": "glasses"}, "clips[0].tags.occlusion", "Values: none, partial, heavy, unknown"),
    ],
)
def test_manifest_rejects_unknown_condition_names_and_values(write_suite, tags, where, problem):
    path = write_suite({"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4", "tags": tags}]})
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:7: {where}: "), message  # the line of the tag
    assert problem in message, message


def test_a_manifest_with_its_own_bins_uses_their_names(write_suite):
    bins = {"pose": {"yaw": {"measure": "abs_yaw", "clip": "p90", "bins": {"small": 20, "big": None}}}}
    ok = write_suite(
        {"name": "s", "bins": bins, "clips": [{"id": "a", "path": "clips/d20.mp4", "tags": {"yaw": "big"}}]}
    )
    assert load_suite(ok).pairs[0].conditions == {"yaw": "big"}
    bad = write_suite(
        {"name": "s", "bins": bins, "clips": [{"id": "a", "path": "clips/d20.mp4", "tags": {"yaw": "extreme"}}]}
    )
    with pytest.raises(ConfigError, match="'extreme' is not a value of 'yaw'.*Values: small, big, unknown"):
        load_suite(bad)


def test_shipped_manifests_use_the_vocabulary():
    for path in sorted((REPO / "suites").glob("*.yaml")):
        if path.name != "bins.yaml" and not path.name.endswith(".curation.yaml"):
            load_suite(path, probe_media=False)  # raises on an unknown tag or value


def test_validate_policy_exit_0_when_every_check_is_supported(write_suite, tmp_path):
    suite = _suite(write_suite, ("frontal", "frontal", "moderate", "moderate"))
    conditions = ["all", "yaw=frontal", "yaw=moderate", "yaw!=extreme"]
    done = _cli("suites", "validate", suite, "--policy", _policy(tmp_path, conditions))
    assert done.returncode == 0, done.stderr
    assert _rows(done.stdout) == {
        "all": ["4", "2", "ok"],
        "yaw=frontal": ["2", "2", "ok"],
        "yaw=moderate": ["2", "2", "ok"],
        "yaw!=extreme": ["4", "2", "ok"],
    }
    assert done.stdout.splitlines()[-1] == "4 of 4 checks supported"


def test_validate_policy_exit_1_names_the_thin_conditions(write_suite, tmp_path):
    suite = _suite(write_suite, ("frontal", "frontal", "extreme"))
    done = _cli("suites", "validate", suite, "--policy", _policy(tmp_path, ["each", "yaw=moderate"]))
    assert done.returncode == 1, done.stderr
    assert _rows(done.stdout) == {
        "yaw=extreme": ["1", "2", "NOT SUPPORTED: 1 clip(s), needs 2"],
        "yaw=frontal": ["2", "2", "ok"],
        "yaw=moderate": ["0", "2", "NOT SUPPORTED: 0 clip(s), needs 2"],
    }
    assert done.stdout.splitlines()[-1] == "1 of 3 checks supported; not supported: yaw=extreme, yaw=moderate"
    only_each = _cli("suites", "validate", suite, "--policy", _policy(tmp_path, ["each"]))  # a value no clip has
    assert only_each.returncode == 1 and _rows(only_each.stdout) == _rows(done.stdout)  # is listed by `each` too


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        (
            "pose=extreme",
            "unknown condition 'pose'. 'pose' is an axis group, not a condition: did you mean 'yaw=extreme'?",
        ),
        ("yaw=extrme", "'extrme' is not a value of 'yaw'; did you mean 'extreme'?"),
        ("lighting=*", "unknown condition 'lighting'. Known: yaw, "),
    ],
)
def test_validate_policy_exit_2_on_a_selector_the_suite_cannot_produce(write_suite, tmp_path, selector, problem):
    suite = _suite(write_suite, ("frontal", "frontal"))
    manifest = yaml.safe_load(suite.read_text())
    manifest["bins"] = {"pose": {"yaw": YAW_BINS}}  # a suite whose only condition is yaw
    suite.write_text(yaml.safe_dump(manifest, sort_keys=False))
    policy = _policy(tmp_path, ["all", selector])
    done = _cli("suites", "validate", suite, "--policy", policy)
    assert done.returncode == 2, done.stdout
    assert f"{policy}:8: rules[0].conditions[1] (rule 'ssim-mean'): '{selector}': " in done.stderr, done.stderr
    assert problem in done.stderr, done.stderr


def test_validate_help_documents_the_exit_codes():
    done = _cli("suites", "validate", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "exit 0: valid (and every check of the policy supported); 1: valid, but some checks" in text
    assert "2: invalid manifest or policy" in text
