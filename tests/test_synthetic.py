"""Synthetic suites from the repository's real clips: deterministic bytes, and each perturbation moves
the condition it should (read back with the condition axes and the face detector) and not others."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from qa_harness.errors import QaHarnessError
from qa_harness.registry import UnknownNameError
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.media import read_frames
from qa_harness.suites.perturb.occlusion import HAND_PERIOD, MASK, SUNGLASSES
from qa_harness.suites.synthetic import SynthSpec, synthesize
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"
RES, FRAMES = 128, 4


def _source(folder: Path, *names: str) -> Path:
    """A suite manifest over repository clips (and a photo, which synthesis must skip)."""
    clips = [{"id": n, "path": f"clips/{n}.mp4"} for n in names]
    clips.append({"id": "photo", "path": "photos/lp_s1.jpg"})
    path = folder / "source.yaml"
    path.write_text(yaml.safe_dump({"name": "source", "data_root": str(DATA), "clips": clips}))
    return path


def _build(tmp: Path, axis: str, *, levels: int = 3, frames: int = FRAMES, clips=("vrt_face5",)) -> Path:
    spec = SynthSpec(axis=axis, levels=levels, seed=7, resolution=RES, max_frames=frames)
    return synthesize(_source(tmp, *clips), spec, tmp / f"synth_{axis}.yaml")


def _tree_hash(manifest: Path) -> str:
    digest = hashlib.sha256(manifest.read_bytes())
    for file in sorted(manifest.with_suffix("").rglob("*")):
        if file.is_file():
            digest.update(file.relative_to(manifest.parent).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _frames(manifest: Path, clip_id: str) -> np.ndarray:
    return read_frames(manifest.with_suffix("") / clip_id)


@pytest.fixture(scope="module")
def lighting_suite(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("lighting"), "lighting")


@pytest.fixture(scope="module")
def lighting_tags(lighting_suite):
    tagger = Tagger(build_axes(["lighting", "pose"]))
    clips = yaml.safe_load(lighting_suite.read_text())["clips"]
    return {c["id"]: tagger.tag_clip(lighting_suite.with_suffix("") / c["path"]) for c in clips}


def test_generation_is_byte_identical(tmp_path):
    # noise (seeded), occluders (placed from detected landmarks) and H.264 (threaded encoders can
    # differ) are the risky ones.
    hashes = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        for axis in ("lighting", "occlusion", "compression"):
            manifest = _build(folder, axis, levels=1, frames=3)
            hashes.append((axis, _tree_hash(manifest)))
    assert hashes[:3] == hashes[3:]


def test_manifest_records_axis_severity_seed_and_skips_photos(lighting_suite):
    manifest = yaml.safe_load(lighting_suite.read_text())
    assert manifest["generator"]["seed"] == 7
    assert manifest["generator"]["axis"] == "lighting"
    assert manifest["data_root"] == "synth_lighting"
    ids = [c["id"] for c in manifest["clips"]]
    assert len(ids) == 1 + 4 * 3 and "photo" not in {c["tags"]["source_clip"] for c in manifest["clips"]}
    assert manifest["clips"][0]["tags"] == {
        "synth_axis": "lighting",
        "synth_op": "none",
        "severity": "0",
        "source_clip": "vrt_face5",
    }
    assert {c["tags"]["severity"] for c in manifest["clips"]} == {"0", "1", "2", "3"}
    first = _frames(lighting_suite, "vrt_face5")
    assert first.shape == (FRAMES, RES, RES, 3)


def test_manifest_loads_as_a_suite_of_reconstruction_pairs(lighting_suite):
    suite = load_suite(lighting_suite)
    assert len(suite.pairs) == 13
    assert all(p.protocol == "reconstruction" and not p.driving.problem for p in suite.pairs)
    darkest = next(p for p in suite.pairs if p.id == "vrt_face5.darken.3")
    assert darkest.conditions["severity"] == "3" and darkest.conditions["synth_op"] == "darken"
    assert darkest.driving.frame_count == FRAMES and darkest.driving.size == (RES, RES)


def test_darkening_moves_the_exposure_bin_only(lighting_tags):
    original = lighting_tags["vrt_face5"]
    lumas = [lighting_tags[f"vrt_face5.darken.{k}"].clip_values["lighting"] for k in (1, 2, 3)]
    assert original.clip_labels["lighting"] == "bright"
    assert original.clip_values["lighting"] > lumas[0] > lumas[1] > lumas[2]
    assert lighting_tags["vrt_face5.darken.3"].clip_labels["lighting"] == "dark"
    for tag in ("lighting_side", "lighting_cast", "lighting_noise"):
        assert lighting_tags["vrt_face5.darken.3"].clip_labels[tag] == original.clip_labels[tag], tag


@pytest.mark.parametrize("op", ["darken", "shade", "cast", "noise"])
def test_lighting_does_not_move_the_pose(lighting_tags, op):
    original = lighting_tags["vrt_face5"]
    changed = lighting_tags[f"vrt_face5.{op}.2"]
    for tag in ("yaw", "pitch", "roll"):
        assert changed.clip_labels[tag] == original.clip_labels[tag], tag
    assert abs(changed.clip_values["yaw"] - original.clip_values["yaw"]) < 5


def test_cast_shade_and_noise_move_their_own_tags(lighting_tags):
    original = lighting_tags["vrt_face5"]
    cast, shade, noise = (lighting_tags[f"vrt_face5.{op}.3"] for op in ("cast", "shade", "noise"))
    assert cast.clip_labels["lighting_cast"] == "strong" != original.clip_labels["lighting_cast"]
    assert cast.clip_labels["lighting"] == original.clip_labels["lighting"]
    assert original.clip_labels["lighting_side"] == "even" and shade.clip_labels["lighting_side"] == "right"
    assert shade.clip_labels["lighting_cast"] == original.clip_labels["lighting_cast"]
    assert noise.clip_labels["lighting_noise"] == "very_noisy" and original.clip_labels["lighting_noise"] == "clean"
    # Sigma 20 per channel at strength 1, independent, so luma noise is 20 * |(.299, .587, .114)|.
    expected = 20 * math.hypot(0.299, 0.587, 0.114)
    assert noise.clip_values["lighting_noise"] == pytest.approx(expected, rel=0.1)
    for tag in ("lighting", "lighting_side", "lighting_cast"):
        assert noise.clip_labels[tag] == original.clip_labels[tag], tag


def _eye_angle(frames: np.ndarray) -> float:
    kp = detect_faces(frames).keypoints
    d = kp[:, 1] - kp[:, 0]
    return float(np.degrees(np.median(np.arctan2(d[:, 1], d[:, 0]))))


def test_geometry_moves_the_face_by_the_stated_amount_and_not_the_lighting(tmp_path):
    suite = _build(tmp_path, "geometry", levels=2)
    base = _frames(suite, "vrt_face5")
    rolled = _frames(suite, "vrt_face5.roll.2")
    # Strength 1 = 30 deg counter-clockwise as seen: in image coordinates (y down) the eye line turns
    # by -30 deg. The detector's keypoints are a few px off, so 4 deg of slack.
    assert _eye_angle(rolled) - _eye_angle(base) == pytest.approx(-30, abs=4)
    width = lambda f: float(np.median(np.diff(detect_faces(f).boxes[:, ::2], axis=1)))  # noqa: E731
    assert width(_frames(suite, "vrt_face5.scale.2")) / width(base) == pytest.approx(0.5, abs=0.06)
    centre_x = lambda f: float(np.median(detect_faces(f).boxes[:, ::2].mean(axis=1)))  # noqa: E731
    assert centre_x(_frames(suite, "vrt_face5.shift.2")) - centre_x(base) == pytest.approx(0.25 * RES, abs=4)
    tagger = Tagger(build_axes(["lighting", "pose"]))
    original = tagger.tag_clip(suite.with_suffix("") / "vrt_face5")
    rolled = tagger.tag_clip(suite.with_suffix("") / "vrt_face5.roll.2")
    lighting_tags = [t for t in original.clip_labels if t.startswith("lighting")]
    assert {t: rolled.clip_labels[t] for t in lighting_tags} == {t: original.clip_labels[t] for t in lighting_tags}
    # Roll moves the roll tag (by the 30 degrees applied) and neither yaw nor pitch.
    assert original.clip_labels["roll"] == "upright" and rolled.clip_labels["roll"] == "strong"
    roll_change = np.nanmedian(rolled.measures["pose.roll"] - original.measures["pose.roll"])
    assert roll_change == pytest.approx(30, abs=4)
    assert rolled.clip_labels["yaw"] == original.clip_labels["yaw"]
    assert rolled.clip_labels["pitch"] == original.clip_labels["pitch"]


def test_occluders_cover_eyes_mouth_and_half_face(tmp_path):
    suite = _build(tmp_path, "occlusion", levels=1, frames=HAND_PERIOD // 2 + 1)
    base = _frames(suite, "vrt_face5")
    faces = detect_faces(base)
    kp = np.rint(faces.keypoints[0]).astype(int)
    eyes, mouth, half = (_frames(suite, f"vrt_face5.{op}.1")[0] for op in ("eyes", "mouth", "half"))
    for eye in kp[:2]:
        assert tuple(eyes[eye[1], eye[0]]) == SUNGLASSES
    assert tuple(mouth[kp[3, 1], kp[3, 0]]) == MASK
    x0, y0, x1, y1 = faces.boxes[0]
    inside_left = (int(x0 + 0.05 * (x1 - x0)), int((y0 + y1) / 2))
    assert tuple(half[inside_left[1], inside_left[0]]) == (128, 128, 128)
    # The hand is beside the face at frame 0 (the reconstruction source stays clean) and over the
    # face half a period later.
    hand = _frames(suite, "vrt_face5.hand.1")
    box = np.s_[int(y0) : int(y1), int(x0) : int(x1)]
    assert np.array_equal(hand[0][box], base[0][box])
    assert not np.array_equal(hand[HAND_PERIOD // 4][box], base[HAND_PERIOD // 4][box])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255**2 / mse)


def test_compression_loses_more_at_higher_severity(tmp_path):
    suite = _build(tmp_path, "compression", levels=3)
    base = _frames(suite, "vrt_face5")
    for op in ("jpeg", "h264"):
        psnr = [_psnr(_frames(suite, f"vrt_face5.{op}.{k}"), base) for k in (1, 2, 3)]
        assert 40 > psnr[0] > psnr[1] > psnr[2] > 15, (op, psnr)


def test_bad_requests_fail_with_the_reason(tmp_path):
    source = _source(tmp_path, "d20")
    with pytest.raises(QaHarnessError, match="no synthetic axis 'lightning'.*lighting"):
        synthesize(source, SynthSpec(axis="lightning"), tmp_path / "x.yaml")
    with pytest.raises(UnknownNameError, match="Did you mean: lighting.darken"):
        synthesize(source, SynthSpec(axis="lighting", ops=("darkne",)), tmp_path / "x.yaml")
    with pytest.raises(QaHarnessError, match="levels must be at least 1"):
        synthesize(source, SynthSpec(axis="lighting", levels=0), tmp_path / "x.yaml")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    with pytest.raises(QaHarnessError, match="not written by"):
        synthesize(source, SynthSpec(axis="lighting", max_frames=1), tmp_path / "mine.yaml")
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_cli_writes_the_suite(tmp_path, capsys):
    import argparse

    from qa_harness.suites.cli import add_synth_parser

    parser = argparse.ArgumentParser()
    add_synth_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "synth_geometry.yaml"
    args = parser.parse_args(
        [
            "synth",
            "--from",
            str(_source(tmp_path, "d20")),
            "--axis",
            "geometry",
            "--levels",
            "2",
            "--ops",
            "roll",
            "--resolution",
            "64",
            "--max-frames",
            "2",
            "--out",
            str(out),
        ]
    )
    assert args.func(args) == 0
    clips = yaml.safe_load(out.read_text())["clips"]
    assert [c["id"] for c in clips] == ["d20", "d20.roll.1", "d20.roll.2"]
    assert read_frames(tmp_path / "synth_geometry" / "d20.roll.2").shape == (2, 64, 64, 3)
    assert "3 clips" in capsys.readouterr().out
