"""Occlusion and lighting tags against the labelled photos of ../shared/data/labels (the benchmark's
own evaluation, `benchmarks/tagbench`); skipped where that research data is absent (users' clones).

Targets of the tag-accuracy issue: masked mouth precision and recall >= 0.9 (0.96 and 0.96 here:
the colour test, the lip cues of `suites/lips.py`, the bordered face retry, the learned mouth cover of
`suites/mouthcover.py`; RESULTS.md), both hands over the
mouth tagged covered, no face with nothing over it tagged occluded, side light agreeing with the light
direction on >= 90 % of Yale B images lit from >= 25 degrees aside.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.tagbench import lighting, occlusion
from qa_harness.suites.axes.occlusion import HELD_EDGE
from tests.helpers.media import REPO

LABELS = REPO.parent / "shared" / "data" / "labels"
needs_occlusion = pytest.mark.skipif(
    not occlusion.available(LABELS), reason=f"labelled face-mask / hand photos absent ({LABELS})"
)
needs_yale = pytest.mark.skipif(not lighting.available(LABELS), reason=f"labelled Yale B faces absent ({LABELS})")


@pytest.fixture(scope="module")
def occluded():
    return occlusion.evaluate(LABELS)


@needs_occlusion
def test_masked_mouths_are_found_with_few_false_alarms(occluded):
    det = occluded.masks
    assert det.tp + det.fn == 25 and det.tn + det.fp == 25
    assert det.precision.value >= 0.95  # 24 of 25 (the false alarm is a hand over the nose)
    assert det.recall.value >= 0.95  # 24 of 25: 0_0_18 (a fringe, lip_line 0.21); 0_0_6 found in a border


@needs_occlusion
def test_masks_the_colour_test_misses_have_no_lips(occluded):
    # A white respirator on brown skin and a white 3M mask on pale skin: within the skin's colour
    # spread (mouth_object 0.00 / 0.05), but without lip line or lip colour (lips_absent 1).
    for photo in ("with_mask/with_mask422.jpg", "with_mask/1_0_6622fc8ac5d90d95d82df5426d9a4a6e.jpg"):
        measures = occluded.mask_tags[photo].measures
        assert measures["occlusion.mouth_object"][0] < 0.25, photo
        assert measures["occlusion.lips_absent"][0] == 1.0, photo
        assert occluded.mask_tags[photo].clip_labels["occlusion_mouth"] == "covered", photo


@needs_occlusion
def test_no_face_with_nothing_over_it_reads_occluded(occluded):
    assert len(occluded.clean) == 23
    assert occluded.false_alarms == {}


@needs_occlusion
def test_both_hands_over_the_mouth_cover_it(occluded):
    tags = occluded.hand_tags["rgb/25.jpg"]
    assert tags.clip_labels["occlusion_mouth"] == "covered"
    assert tags.measures["occlusion.hand_at_mouth"][0] == 1.0  # Hands finds no hand there; Pose does
    for photo in ("rgb/21.jpg", "rgb/23.jpg"):  # a hand on the cheek or chin leaves the mouth free
        assert occluded.hand_tags[photo].clip_labels["occlusion_mouth"] == "visible", photo


@needs_occlusion
def test_a_microphone_held_at_the_mouth_covers_it_and_nothing_else_reads_held(occluded):
    # HandOverFace 27: a fist beside the chin, the microphone's head between it and the mouth (0.60,
    # the photo the rule was fitted on); every other labelled photo reads at most 0.23 (a hand on the chin)
    # but 25, both hands over mouth and nose (0.92: covered either way).
    tags = occluded.hand_tags["rgb/27.jpg"]
    assert tags.clip_labels["occlusion_mouth"] == "covered"
    assert tags.measures["occlusion.held_object"][0] >= HELD_EDGE
    others = {
        **occluded.mask_tags,
        **{f: t for f, t in occluded.hand_tags.items() if f not in ("rgb/25.jpg", "rgb/27.jpg")},
    }
    held = {f: float(np.nan_to_num(t.measures["occlusion.held_object"][0])) for f, t in others.items()}
    assert max(held.values()) <= 0.3, held


@needs_yale
def test_side_light_agrees_with_the_light_direction_on_yale_b():
    side = lighting.evaluate(LABELS)
    hits, n = side.agreement(lighting.SIDE_LIT)
    assert n == 372
    assert hits / n >= 0.9  # 352 of 372


@needs_occlusion
def test_hair_over_the_jaw_does_not_cover_the_mouth():
    # AFLW2000 image00082: a broad smile, red hair over the right jaw; the cheeks beyond the mouth
    # corners were read until the region read was narrowed (0.32 then, 0.22 now; edge 0.25).
    tags = occlusion.Tagger(occlusion.build_axes(["occlusion"])).tag_clip(
        LABELS / "aflw2000_subset" / "images" / "image00082.jpg"
    )
    assert tags.clip_labels["occlusion_mouth"] == "visible"
    assert tags.measures["occlusion.mouth_object"][0] < 0.25


@needs_occlusion
@pytest.mark.slow
def test_no_aflw_face_reads_mouth_covered_and_profiles_get_no_learned_reading():
    # The learned mouth cover read every AFLW2000 profile (yaw 51-97 degrees) covered before the turn
    # rule (`mouthcover.turned`): now those faces get no `mouth_cover` at all, and no face reads covered.
    tags = occlusion.aflw_mouths(LABELS)
    clean = {f: t for f, t in tags.items() if f not in occlusion.AFLW_NOT_CLEAN and t.clip_labels["face"] != "missing"}
    assert len(clean) == 31
    assert [f for f, t in clean.items() if t.clip_labels["occlusion_mouth"] == "covered"] == []
    for photo in ("image00006.jpg", "image00032.jpg", "image00036.jpg", "image00074.jpg", "image00091.jpg"):
        assert np.isnan(clean[photo].measures["occlusion.mouth_cover"][0]), photo
