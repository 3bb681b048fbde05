"""`suites build` for a gating suite, as a real CLI run on short cuts of real clips: mp4 clips, controlled
variants (a microphone from landmarks, relighting, a pose-gap source), the `variant` provenance tag,
kept tags, warnings on thin and empty condition values, the suite card, and exposed thresholds."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from qa_harness.errors import QaHarnessError
from qa_harness.registry import UnknownNameError
from qa_harness.suites.bins import load_bins
from qa_harness.suites.build import card_path, report_path
from qa_harness.suites.curate import BuildSpec, _bounds
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.media import crop_resize, read_frames, write_frames
from qa_harness.suites.variants import Variant, parse_variants
from tests.helpers.media import REPO

FRAMES = 12


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", *map(str, args)], capture_output=True, text=True, cwd=REPO
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """d12 (turns its head, a hand at the chin) and vrt_face5 (static, bright): 12 frames each at 256 px."""
    raw = tmp_path_factory.mktemp("raw")
    for name in ("d12", "vrt_face5"):
        frames = read_frames(REPO / "data" / "clips" / f"{name}.mp4", max_frames=3 * FRAMES)
        write_frames(crop_resize(frames, None, 256), raw / name)
    out = tmp_path_factory.mktemp("out") / "g.yaml"
    done = _cli(
        "suites", "build", "--videos", raw, "--out", out, "--max-len", FRAMES, "--max-segments", 1,
        "--resolution", 128, "--stride", 3, "--encode", "mp4", "--tags", "lighting,yaw,pose_gap",
        "--variants", "occlusion.mic,lighting.darken,pose_gap", "--variants-per-op", 2, "--min-clips", 3,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done


def _clip(out: Path, clip_id: str) -> np.ndarray:
    return read_frames(out.with_suffix("") / f"{clip_id}.mp4").astype(np.float64)


def test_clips_and_variants_are_mp4_with_measured_tags_and_their_provenance(built):
    out, _ = built
    suite = load_suite(out)
    clips = {p.id: p.driving for p in suite.pairs}
    real = ["d12.000", "vrt_face5.000"]
    variants = [f"{c}~{op}" for c in real for op in ("occlusion.mic", "lighting.darken", "pose_gap")]
    assert sorted(clips) == sorted(real + variants)
    assert all(c.path.suffix == ".mp4" and c.frame_count == FRAMES and c.size == (128, 128) for c in clips.values())
    for clip_id, clip in clips.items():
        assert set(clip.tags) == {"lighting", "yaw", "pose_gap", "variant"}  # --tags kept, plus provenance
        assert clip.tags["variant"] == (clip_id.split("~")[1] if "~" in clip_id else "none")
    report = yaml.safe_load(report_path(out).read_text())
    changes = {
        "occlusion.mic": {"occlusion", "occlusion_hand"},
        "lighting.darken": {"lighting"},
        "pose_gap": {"pose_gap"},
    }
    for v in report["variants"]:  # tags of the changed axis measured on the variant, the others the real clip's
        real = clips[v["of"]].tags
        for tag, value in clips[v["id"]].tags.items():
            if tag != "variant":
                assert value == (v["measured"][tag] if tag in changes[v["variant"]] else real[tag]), (v["id"], tag)


def test_variant_names_take_a_strength_and_a_count():
    assert parse_variants("occlusion.half:0.5*8, pose_gap") == (Variant("occlusion.half", 0.5, 8), Variant("pose_gap"))
    with pytest.raises(QaHarnessError, match="count of 'pose_gap' must be a positive integer"):
        parse_variants("pose_gap*0")
    with pytest.raises(QaHarnessError, match="strength of 'lighting.darken' must be in"):
        parse_variants("lighting.darken:2")
    with pytest.raises(UnknownNameError, match="occlusion.hand"):
        parse_variants("occlusion.hands")


def test_darkening_variant_measures_darker(built):
    out, _ = built
    labels = next(b for b in load_bins()["lighting"] if b.tag == "lighting").labels
    tags = {p.id: p.driving.tags for p in load_suite(out).pairs}
    for clip in ("d12.000", "vrt_face5.000"):
        darker = _clip(out, f"{clip}~lighting.darken").mean() / _clip(out, clip).mean()
        assert 0.15 < darker < 0.5  # gain 0.4, gamma 2 on luma: mid-grey 128 -> 26
        assert labels.index(tags[f"{clip}~lighting.darken"]["lighting"]) < labels.index(tags[clip]["lighting"])


def test_microphone_covers_the_lower_face_only(built):
    out, _ = built
    for clip in ("d12.000", "vrt_face5.000"):
        diff = np.abs(_clip(out, f"{clip}~occlusion.mic") - _clip(out, clip)).mean(axis=(0, 3))
        assert diff[:40].mean() < 3.0, clip  # the upper third (hair, eyes) stays, up to re-encoding noise
        assert diff[60:].max() > 60, clip  # a dark ball on the chin


def test_pose_gap_variant_puts_a_distant_frame_first_and_keeps_the_clip(built):
    out, _ = built
    tags = {p.id: p.driving.tags for p in load_suite(out).pairs}
    report = yaml.safe_load(report_path(out).read_text())
    assert {(v["id"], v["of"], v["variant"]) for v in report["variants"] if v["variant"] == "pose_gap"} == {
        ("d12.000~pose_gap", "d12.000", "pose_gap"),
        ("vrt_face5.000~pose_gap", "vrt_face5.000", "pose_gap"),
    }
    for clip in ("d12.000", "vrt_face5.000"):
        real, variant = _clip(out, clip), _clip(out, f"{clip}~pose_gap")
        shifted = np.abs(variant[1:] - real[:-1]).mean()
        assert shifted < 3.0  # the clip itself, one frame later, up to re-encoding noise
        assert shifted < np.abs(variant[2:] - real[2:]).mean()  # and not the clip unshifted
        assert np.abs(variant[0] - real[0]).mean() > 3.0  # its source is another frame of the video
    gaps = ("small", "medium", "large")
    assert gaps.index(tags["d12.000~pose_gap"]["pose_gap"]) >= gaps.index(tags["d12.000"]["pose_gap"])


def test_thin_and_empty_values_are_warned_and_the_card_lists_every_count(built):
    out, done = built
    manifest = yaml.safe_load(out.read_text())
    counts = Counter((t, v) for c in manifest["clips"] for t, v in c["tags"].items())
    card = card_path(out).read_text()
    for (tag, value), n in counts.items():
        assert f"| {tag} | {value} | {n} | {'thin' if n < 3 else ''} |" in card
        if n < 3:
            assert f"{tag}={value}: {n} clip(s), fewer than 3 (thin)" in done.stderr
    assert counts[("variant", "pose_gap")] == 2 and "variant=pose_gap: 2 clip(s), fewer than 3 (thin)" in card
    assert "lighting=dark: no clip (empty)" not in done.stderr  # the darkened copies are dark
    assert "yaw=extreme: no clip (empty)" in done.stderr and "- yaw=extreme: no clip (empty)" in card
    strata = manifest["generator"]["strata_counts"]
    assert sum(s["selected"] for s in strata.values()) == len(manifest["clips"]) == 8
    for key, s in strata.items():
        assert f"| {key} | {s['available']} | {s['selected']} |" in card


def test_curation_thresholds_are_options(built, tmp_path):
    raw = Path(yaml.safe_load(built[0].read_text())["generator"]["videos"])
    done = _cli(
        "suites", "build", "--videos", built[0].parent / raw, "--out", tmp_path / "s.yaml", "--max-len", FRAMES,
        "--max-segments", 1, "--resolution", 64, "--stride", 3, "--axes", "lighting", "--strata", "lighting",
        "--max-jump", 0.0001,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = yaml.safe_load(report_path(tmp_path / "s.yaml").read_text())
    reasons = [s.get("reason", "") for segs in report.values() for s in segs]
    assert reasons and all("face widths between checked frames (> 0.0001)" in r for r in reasons), reasons
    assert "--max-jump" in _cli("suites", "build", "--help").stdout


def test_max_segments_keeps_evenly_spaced_cuts_with_their_indices():
    parts, bounds = _bounds(100, BuildSpec(max_len=10, max_segments=4))
    assert parts == 10 and bounds == [(0, 0, 10), (3, 30, 40), (6, 60, 70), (9, 90, 100)]
    assert _bounds(25, BuildSpec(max_len=10)) == (3, [(0, 0, 8), (1, 8, 17), (2, 17, 25)])
