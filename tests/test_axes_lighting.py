"""Lighting axis on the repository's real clips, with expectations written from looking at frames.

d20.mp4: a dim outdoor face (face luma ~70); vrt_face5.mp4: a bright, evenly lit office face (~140);
tpsmm_driving.mp4: window light from the image right; d12.mp4: orange wood-panel room behind a
face that is white-balanced (no cast on the skin). Synthetic cases change one thing of a real frame:
a coloured background, a tint over everything, a luma ramp, a darkening.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qa_harness.errors import ConfigError
from qa_harness.suites.axes.lighting import NEUTRAL_SKIN, noise_sigma, skin_cast
from qa_harness.suites.bins import UNKNOWN, load_bins
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import iter_arrays
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def lighting():
    return Tagger(build_axes(["lighting"]))


@pytest.fixture(scope="module")
def tagged(lighting):
    names = ("d20", "vrt_face5", "tpsmm_driving", "d12", "lp_s32")
    return {n: lighting.tag_clip(DATA / "clips" / f"{n}.mp4", max_frames=6) for n in names}


def test_dim_clip_is_darker_than_bright_clip(tagged):
    dim, bright = tagged["d20"], tagged["vrt_face5"]
    assert 55 < dim.clip_values["lighting"] < 85
    assert 140 < bright.clip_values["lighting"] < 170
    assert dim.clip_labels["lighting"] == "dim"
    assert bright.clip_labels["lighting"] == "bright"
    assert set(dim.frame_labels["lighting"]) == {"dim"}
    assert set(bright.frame_labels["lighting"]) == {"bright"}


def test_side_light_and_colour_cast_match_what_the_frames_show(tagged):
    assert tagged["tpsmm_driving"].clip_labels["lighting_side"] == "right"
    assert tagged["vrt_face5"].clip_labels["lighting_side"] == "even"
    # The orange room is behind the face: the skin is not cast (the grey-world measure read 29.6).
    assert tagged["d12"].clip_labels["lighting_cast"] == "neutral"
    assert tagged["lp_s32"].clip_labels["lighting_cast"] == "neutral"
    assert all(t.clip_labels["lighting_noise"] == "clean" for t in tagged.values())


def test_frame_labels_cover_every_frame(tagged):
    for tags in tagged.values():
        assert all(len(labels) == 6 for labels in tags.frame_labels.values())
        assert all(len(values) == 6 for values in tags.measures.values())


def test_photo_is_one_frame(lighting):
    tags = lighting.tag_clip(DATA / "photos" / "sadtalker_people0.png")
    assert tags.frame_labels["lighting"] == (tags.clip_labels["lighting"],)


def test_faceless_frames_fall_back_to_the_central_box(lighting):
    grey = np.full((2, 64, 64, 3), 30, np.uint8)
    tags = lighting.tag_frames(grey)
    assert tags.clip_values["lighting"] == pytest.approx(30.0)
    assert tags.clip_labels["lighting"] == "dark"
    assert tags.clip_labels["lighting_side"] == "even"


def test_noise_estimator_recovers_known_sigma():
    # Smooth ramp plus white noise of sigma 10: Immerkaer's estimate is unbiased for white noise.
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.linspace(50, 200, 256), np.linspace(0, 30, 256))
    assert noise_sigma(ramp) < 0.01
    assert noise_sigma(ramp + rng.normal(0, 10, ramp.shape)) == pytest.approx(10, rel=0.03)


def test_unknown_label_for_nan():
    tag = load_bins()["lighting"][0]
    assert tag.label(math.nan) == UNKNOWN
    assert math.isnan(tag.summarise(np.array([math.nan])))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("lighting: {lighting: {measure: luma, bins: {a: 5, b: 3, c: null}}}", "edges must increase"),
        ("lighting: {lighting: {measure: luma, bins: {a: 5, b: 7}}}", "must be null"),
        ("lighting: {lighting: {measure: luma, clip: p50, bins: {a: 5, b: null}}}", "is not one of"),
        ("lighting: {lighting: {measure: glow, bins: {a: 5, b: null}}}", "no measurement 'glow'"),
    ],
)
def test_bad_bins_name_the_file_and_problem(tmp_path, text, problem):
    path = tmp_path / "bins.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as info:
        build_axes(["lighting"], bins_path=path)
    assert str(path) in str(info.value)


@pytest.fixture(scope="module")
def office_frame():
    """Frame 0 of vrt_face5 (an evenly lit office face) and its face box."""
    frame = next(iter_arrays(DATA / "clips" / "vrt_face5.mp4", chunk=1, max_frames=1))[0]
    return frame, detect_faces(frame[None]).boxes[0]


def test_skin_cast_matches_a_hand_computed_value():
    # Independent reference: JPEG (JFIF) YCbCr of one skin colour, written out here.
    r, g, b = 200.0, 150.0, 120.0
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb, cr = 0.564 * (b - y), 0.713 * (r - y)
    expected = math.hypot(100 * cb / y - NEUTRAL_SKIN[0], 100 * cr / y - NEUTRAL_SKIN[1])
    patch = np.broadcast_to(np.array([r, g, b], np.uint8), (8, 8, 3))
    assert skin_cast(patch) == pytest.approx(expected, abs=0.05)
    assert math.isnan(skin_cast(np.full((8, 8, 3), 120, np.uint8)))  # grey: nothing to measure


def test_coloured_background_is_not_a_cast_on_the_face(lighting, office_frame):
    frame, box = office_frame
    x0, y0, x1, y1 = box.astype(int)
    green = np.empty_like(frame)
    green[:] = (150, 200, 60)  # a yellow-green waterfront behind the face
    green[y0:y1, x0:x1] = frame[y0:y1, x0:x1]
    before, after = lighting.tag_frames(frame[None]), lighting.tag_frames(green[None])
    assert after.clip_labels["lighting_cast"] == "neutral"
    assert after.clip_values["lighting_cast"] == pytest.approx(before.clip_values["lighting_cast"], abs=1.0)
    r, g, b = green.reshape(-1, 3).mean(0)  # the whole frame is far from grey: grey world would say "strong"
    grey_world = 100 * math.hypot(0.564 * (b - (0.299 * r + 0.587 * g + 0.114 * b)), 0.713 * (r - g)) / g
    assert grey_world > 28


def test_a_frame_that_is_all_skin_is_not_a_cast(lighting, office_frame):
    frame, box = office_frame
    x0, y0, x1, y1 = box.astype(int)
    w, h = x1 - x0, y1 - y0
    cheeks = frame[y0 + int(0.45 * h) : y0 + int(0.7 * h), x0 + int(0.3 * w) : x0 + int(0.7 * w)]
    skin = np.ascontiguousarray(np.repeat(np.repeat(cheeks, 4, axis=0), 4, axis=1))
    tags = lighting.tag_frames(skin[None])
    assert tags.clip_labels["lighting_cast"] == "neutral"


@pytest.mark.parametrize(
    ("gain", "cast"), [((0.7, 1.0, 1.6), "strong"), ((1.3, 1.0, 0.7), "tinted"), ((0.8, 1.2, 0.8), "tinted")]
)
def test_a_tint_over_the_face_is_a_cast(lighting, office_frame, gain, cast):
    frame, _ = office_frame  # reads 2.6 untinted; blue, warm and green light over everything
    tinted = np.clip(frame * np.array(gain), 0, 255).astype(np.uint8)
    assert lighting.tag_frames(tinted[None]).clip_labels["lighting_cast"] == cast


@pytest.mark.parametrize(("ramp", "side"), [((0.35, 1.0), "right"), ((1.0, 0.35), "left")])
def test_a_luma_ramp_across_the_face_is_side_light(lighting, office_frame, ramp, side):
    frame, box = office_frame  # the gain runs from ramp[0] to ramp[1] across the face box
    gain = np.interp(np.arange(frame.shape[1]), box[[0, 2]], ramp)[None, :, None]
    lit = np.clip(frame * gain, 0, 255).astype(np.uint8)
    assert lighting.tag_frames(frame[None]).clip_labels["lighting_side"] == "even"
    assert lighting.tag_frames(lit[None]).clip_labels["lighting_side"] == side


def test_a_dim_stage_face_is_dim(lighting, office_frame):
    frame, _ = office_frame
    original = lighting.tag_frames(frame[None]).clip_values["lighting"]
    stage = np.clip(frame * (89 / original), 0, 255).astype(np.uint8)  # the stage: face luma 89
    tags = lighting.tag_frames(stage[None])
    assert tags.clip_values["lighting"] == pytest.approx(89, abs=1.5)
    assert tags.clip_labels["lighting"] == "dim"
