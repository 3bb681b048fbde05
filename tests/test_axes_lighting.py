"""Lighting axis on the repository's real clips, with expectations written from looking at frames.

d20.mp4: a dim outdoor face (face luma ~70); vrt_face5.mp4: a bright, evenly lit office face (~140);
tpsmm_driving.mp4: window light from the image right; d12.mp4: orange wood-panel room (warm cast).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qa_harness.errors import ConfigError
from qa_harness.suites.axes.lighting import noise_sigma
from qa_harness.suites.bins import UNKNOWN, load_bins
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
    assert tagged["d12"].clip_labels["lighting_cast"] == "strong"
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
