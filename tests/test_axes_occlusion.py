"""Occlusion axis on real photos (expectations from looking at them: lp_d30 rests her hand against her
cheek and chin; jianzhu is an unoccluded frontal portrait) and on synthetic occluders of known place:
a mask drawn over the portrait's lower face, the same region in its own skin colour, a crop that
puts part of the face beyond the frame edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from qa_harness.suites.axes.headpose import rotation_from_angles
from qa_harness.suites.axes.occlusion import (
    COVER_LIPS,
    COVER_VETO,
    HELD_EDGE,
    MIN_PALM,
    MOUTH_COVERED,
    facing_away,
    keypoints_from_landmarks,
    mouth_without_hand,
)
from qa_harness.suites.hands import HandFinder
from qa_harness.suites.lips import LINE_EDGE, RED_EDGE, lip_cues
from qa_harness.suites.mouthcover import MouthCover
from qa_harness.suites.skin import LOWER_FACE, lower_face_regions
from qa_harness.suites.synthetic import SynthSpec, synthesize
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.video.io import iter_frames_uint8

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


def test_hands_smaller_than_a_palm_of_the_face_are_left_out(tagger):
    # lp_d30 rests her hand against her face: its palm is longer than MIN_PALM eye distances; the same
    # hand asked to be longer than the whole frame is left out.
    frame = np.asarray(Image.open(DATA / "photos" / "lp_d30.jpg").convert("RGB"))
    points = tagger.observe(frame[None]).landmarks.points.numpy()[0]
    iod = float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))
    finder = HandFinder()
    assert finder.outlines(frame, min_palm=MIN_PALM * iod)
    assert finder.outlines(frame, min_palm=float(max(frame.shape))) == []


def test_profile_hides_its_far_side_without_calling_it_occluded(tagger):
    profile = tagger.tag_clip(DATA / "photos" / "ddfa2_emma_profile.jpg")
    assert profile.measures["occlusion.self_occluded"][0] >= 0.08  # measured, kept apart
    assert profile.measures["occlusion.hidden"][0] < profile.measures["occlusion.self_occluded"][0]
    assert profile.clip_labels["occlusion_mouth"] == "visible"


def test_no_face_is_face_missing_not_occlusion(tagger):
    tags = tagger.tag_frames(np.full((1, 96, 96, 3), 90, np.uint8))
    assert tags.measures["occlusion.missing"][0] == 1.0 and tags.clip_labels["face"] == "missing"
    for tag in ("occlusion", "occlusion_mouth", "occlusion_hand", "truncation"):
        assert tags.clip_labels[tag] == "unknown", tag


@pytest.fixture(scope="module")
def portrait(tagger):
    """The clean frontal portrait, its landmarks (68, 2) and its tags."""
    frame = np.asarray(Image.open(DATA / "photos" / "ddfa2_jianzhu.jpg").convert("RGB"))
    obs = tagger.observe(frame[None])
    return frame, obs.landmarks.points.numpy()[0], tagger.tag_frames(frame[None])


def _paint_lower_face(frame: np.ndarray, points: np.ndarray, colour) -> np.ndarray:
    out = frame.copy()
    cv2.fillPoly(out, [np.rint(points[LOWER_FACE]).astype(np.int32)], colour)
    return out


def test_a_drawn_mask_covers_the_mouth(tagger, portrait):
    frame, points, clean = portrait
    assert clean.clip_labels["occlusion_mouth"] == "visible" and clean.clip_labels["occlusion"] == "none"
    assert clean.measures["occlusion.mouth_object"][0] < 0.1
    masked = tagger.tag_frames(_paint_lower_face(frame, points, (170, 205, 225))[None])  # a surgical-mask blue
    assert masked.clip_labels["occlusion_mouth"] == "covered"
    # The paint fills the measured region (less what the mask moves the landmarks by): nearly all foreign.
    assert masked.measures["occlusion.mouth_object"][0] > 0.8
    assert masked.clip_labels["occlusion"] in ("partial", "heavy")
    # The learned classifier (trained on photos, not on drawn masks) agrees on both.
    edge = MouthCover.load().edge
    assert clean.measures["occlusion.mouth_cover"][0] < edge <= masked.measures["occlusion.mouth_cover"][0]


def test_a_skin_coloured_patch_hides_the_lips_not_the_colour(tagger, portrait):
    frame, points, clean = portrait
    assert clean.measures["occlusion.lips_absent"][0] == 0.0
    assert clean.measures["occlusion.lip_line"][0] > LINE_EDGE and clean.measures["occlusion.lip_red"][0] > RED_EDGE
    band, _ = lower_face_regions(frame.shape[:2], keypoints_from_landmarks(points), points)
    skin = tuple(int(c) for c in np.median(frame[band], axis=0))  # the face's own skin colour
    patched = tagger.tag_frames(_paint_lower_face(frame, points, skin)[None])
    assert patched.measures["occlusion.mouth_object"][0] < 0.1  # the colour test cannot see it
    # ... but the flat patch has no line between the lips and no lip colour: the lip cues can.
    assert patched.measures["occlusion.lip_line"][0] < 0.02 and abs(patched.measures["occlusion.lip_red"][0]) < 0.02
    assert patched.measures["occlusion.lips_absent"][0] == 1.0
    assert patched.clip_labels["occlusion_mouth"] == "covered"


def test_an_open_mouth_with_clear_lips_is_not_covered(tagger):
    # d12 (suites/real.yaml) frames 74-102: an open 'oh' mouth whose teeth and shadow the colour test
    # read as foreign (mouth_object 0.27-0.51, tagged covered before); lip line and colour are clear.
    frames = np.concatenate(list(iter_frames_uint8(DATA / "clips" / "d12.mp4", resolution=256, max_frames=89)))
    tags = tagger.tag_frames(frames[80:89:4])
    assert (tags.measures["occlusion.mouth_object"] >= MOUTH_COVERED).all()
    assert (tags.measures["occlusion.lips_present"] == 1.0).all()
    assert tags.frame_labels["occlusion_mouth"] == ("visible",) * 3 and tags.clip_labels["occlusion"] == "none"


def test_teeth_between_the_lips_count_as_a_lip_line():
    # A smile showing teeth on dark skin (xportrait_driving in the gating suite): the line between the
    # lips is bright, not dark, and the lips are no redder than the skin: drawn here as a white bar.
    frame = np.full((128, 128, 3), (95, 60, 45), np.uint8)
    frame[60:64, 44:84] = (235, 235, 225)
    points = np.zeros((68, 2))
    points[36:42], points[42:48] = (44, 30), (84, 30)  # eyes 40 px apart
    points[48:60] = [
        (44, 62),
        *[(44 + 5 * k, 58) for k in range(1, 8)],
        (84, 62),
        *[(74 - 10 * k, 66) for k in range(3)],
    ]
    points[60:68] = [(46, 62), (54, 61), (64, 61), (74, 61), (82, 62), (74, 63), (64, 63), (54, 63)]
    line, red, absent, _ = lip_cues(frame, points)
    assert line > 0.5 and abs(red) < 0.02 and absent == 0.0
    frame[60:64, 44:84] = (95, 60, 45)  # the same mouth covered by a flat skin-coloured cover
    assert lip_cues(frame, points)[2] == 1.0


def test_clear_lips_overrule_only_a_partial_colour_share():
    measures = {"hand_at_mouth": np.zeros(4), "lips_absent": np.zeros(4), "lips_present": np.array([1.0, 1, 0, 1])}
    measures["mouth_object"] = np.array([0.5, 0.9, 0.5, np.nan])  # open mouth; patterned mask; no lips seen
    measures["held_object"], measures["mouth_cover"] = np.zeros(4), np.full(4, np.nan)
    measures["lip_line"], measures["lip_red"] = np.zeros(4), np.zeros(4)
    np.testing.assert_array_equal(mouth_without_hand(measures, slice(None), 0.5), [0.0, 0.9, 0.5, 0.0])


def test_the_learned_classifier_covers_from_its_edge_and_vetoes_only_colour_and_missing_lips():
    """`mouth_cover` >= the edge covers the mouth whole; under `COVER_VETO` it silences the colour share
    and `lips_absent` (the hand-written cues' false alarms on blurred faces), never a hand at the mouth;
    NaN (not measured) changes nothing."""
    cover = np.array([0.9, 0.5, COVER_VETO - 0.01, COVER_VETO - 0.01, COVER_VETO, np.nan])
    measures = {"lips_present": np.zeros(6), "held_object": np.zeros(6), "mouth_cover": cover}
    measures["mouth_object"] = np.array([0.1, 0.4, 0.6, 0.0, 0.6, 0.6])
    measures["lips_absent"] = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    measures["hand_at_mouth"] = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    measures["lip_line"], measures["lip_red"] = np.zeros(6), np.zeros(6)
    np.testing.assert_array_equal(mouth_without_hand(measures, slice(None), 0.8), [1.0, 0.4, 0.0, 1.0, 0.6, 1.0])
    # lips that still show (a closed thin-lipped smile) keep the classifier from covering the mouth
    measures["lip_line"][0], measures["lip_red"][0] = COVER_LIPS
    assert mouth_without_hand(measures, slice(None), 0.8)[0] == 0.1


def test_an_object_held_at_the_mouth_covers_it_from_the_edge_on():
    """`held_object` is a share of a corridor: from `HELD_EDGE` it covers the mouth whole (1.0), under it
    it adds nothing; NaN (no skin to compare with) adds nothing either."""
    held = np.array([HELD_EDGE - 0.01, HELD_EDGE, 0.9, np.nan])
    measures = {"hand_at_mouth": np.zeros(4), "lips_absent": np.zeros(4), "lips_present": np.zeros(4)}
    measures.update(mouth_object=np.full(4, 0.1), held_object=held, mouth_cover=np.full(4, np.nan))
    measures.update(lip_line=np.zeros(4), lip_red=np.zeros(4))
    np.testing.assert_array_equal(mouth_without_hand(measures, slice(None), 0.5), [0.1, 1.0, 1.0, 0.1])


def test_hands_over_the_face_for_under_three_frames_are_dropped():
    axis = build_axes(["occlusion"])[0]
    n = 12
    measures = {m: np.zeros(n) for m in axis.measures}
    hand = np.array([0, 0.3, 0.3, 0, 0.2, 0, 0, 0.4, 0.5, 0.5, 0.4, 0])  # runs of 2, 1 and 4 frames
    measures.update(hand=hand, hand_lips=(hand > 0) * 0.5, mouth=(hand > 0) * 0.5, hidden=hand + 0.1)
    measures["hidden_no_hand"] = np.full(n, 0.1)
    kept = axis.finish(measures)
    transient = np.isin(np.arange(n), [1, 2, 4])
    np.testing.assert_array_equal(kept["hand"], np.where(transient, 0.0, hand))
    np.testing.assert_array_equal(kept["hidden"], np.where(transient, 0.1, hand + 0.1))
    np.testing.assert_array_equal(kept["mouth"], np.where(transient, 0.0, (hand > 0) * 0.5))
    short = {m: v[:2] for m, v in measures.items()}  # a clip (or photo) shorter than a run: nothing to judge by
    assert axis.finish(short)["hand"].tolist() == [0.0, 0.3]
    # every 2nd frame measured: a run of 2 measured frames spans 3 or more; every 4th (curation): all kept
    np.testing.assert_array_equal(axis.finish(measures, stride=2)["hand"], np.where(hand == 0.2, 0.0, hand))
    np.testing.assert_array_equal(axis.finish(measures, stride=4)["hand"], hand)


def test_a_face_cut_by_the_frame_edge_is_truncated(tagger, portrait):
    frame, points, clean = portrait
    assert clean.clip_labels["truncation"] == "none"
    cut_x = int(round(points[:, 0].min() + 0.3 * np.ptp(points[:, 0])))  # 30 % of the face beyond the left edge
    cut = np.ascontiguousarray(frame[:, cut_x:])
    tags = tagger.tag_frames(cut[None])
    expected = float((points[:, 0] < cut_x).mean())  # the uncut landmarks left of the cut
    assert tags.clip_labels["truncation"] == "cut"
    assert tags.measures["occlusion.truncated"][0] == pytest.approx(expected, abs=0.1)


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


def test_pose_runs_on_every_fifth_frame_and_its_hands_are_held_between():
    from qa_harness.suites.axes import occlusion

    axis = build_axes(["occlusion"])[0]
    tagger = Tagger([axis])
    frames = np.stack([np.asarray(Image.open(DATA / "photos" / "lp_d30.jpg").convert("RGB"))] * 7)
    obs = tagger.observe(frames)
    axis.measure(obs)  # builds the finders
    calls = []
    real = axis._body.hands
    axis._body.hands = lambda frame: calls.append(1) or real(frame)
    held = axis.measure(obs)["hand_at_mouth"]
    assert len(calls) == 2 == -(-len(frames) // occlusion.POSE_EVERY)  # frames 0 and 5
    assert np.isfinite(held).all() and (held == held[0]).all()  # same frame: the held answer is Pose's
