"""Occlusion axis on real photos (expectations from looking at them: lp_d30 rests her hand against her
cheek and chin; jianzhu is an unoccluded frontal portrait) and on synthetic occluders of known place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from qa_harness.suites.axes.headpose import rotation_from_angles
from qa_harness.suites.axes.occlusion import facing_away
from qa_harness.suites.synthetic import SynthSpec, synthesize
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def tagger():
    return Tagger(build_axes(["occlusion", "pose"]))


def test_far_side_faces_away_when_the_head_turns():
    assert facing_away(rotation_from_angles(0, 0, 0)).sum() <= 2  # only the jaw ends, edge-on
    turned = facing_away(rotation_from_angles(-60, 0, 0))  # turned to the image left
    assert turned[:4].all() and not turned[12:17].any()  # the image-left jaw hides, the right shows
    assert turned.mean() > 0.1


def test_hand_on_the_face_is_found_and_clean_portrait_is_not(tagger):
    hand = tagger.tag_clip(DATA / "photos" / "lp_d30.jpg")
    assert hand.clip_labels["occlusion_hand"] == "hand" and hand.clip_values["occlusion_hand"] > 0.03
    assert hand.clip_labels["occlusion"] in ("partial", "heavy")
    clean = tagger.tag_clip(DATA / "photos" / "ddfa2_jianzhu.jpg")
    assert clean.clip_labels["occlusion"] == "none" and clean.clip_labels["occlusion_hand"] == "none"


def test_profile_hides_its_far_side(tagger):
    profile = tagger.tag_clip(DATA / "photos" / "ddfa2_emma_profile.jpg")
    assert profile.measures["occlusion.self_occluded"][0] >= 0.08
    assert profile.clip_labels["occlusion"] == "partial"


def test_no_face_is_heavy_occlusion(tagger):
    tags = tagger.tag_frames(np.full((1, 96, 96, 3), 90, np.uint8))
    assert tags.measures["occlusion.hidden"][0] == 1.0 and tags.clip_labels["occlusion"] == "heavy"


def test_synthetic_occluders_move_the_occlusion_tag_not_the_pose(tmp_path, tagger):
    source = tmp_path / "source.yaml"
    clips = [{"id": "vrt_face5", "path": "clips/vrt_face5.mp4"}]
    source.write_text(yaml.safe_dump({"name": "s", "data_root": str(DATA), "clips": clips}))
    spec = SynthSpec(axis="occlusion", ops=("eyes", "mouth"), levels=3, resolution=128, max_frames=4)
    suite = synthesize(source, spec, tmp_path / "occ.yaml").with_suffix("")
    original = tagger.tag_clip(suite / "vrt_face5")
    assert original.clip_labels["occlusion"] == "none"
    for op in ("eyes", "mouth"):
        covered = tagger.tag_clip(suite / f"vrt_face5.{op}.3")
        assert covered.clip_labels["occlusion"] == "partial", op
        assert np.median(covered.measures["occlusion.flat"]) > 0.1, op
        assert covered.clip_labels["yaw"] == original.clip_labels["yaw"], op
