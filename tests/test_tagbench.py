"""The tag-accuracy benchmark's statistics and the labelled-data readers (qa_harness.labelled)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats as sps
from scipy.io import loadmat, savemat

from benchmarks.tagbench import masks
from benchmarks.tagbench.stats import bootstrap, confusion, detection, errors, proportion
from qa_harness.labelled import LabelError, aflw_angles, load_aflw2000, read_manifest
from tests.helpers.media import REPO

LABELS = REPO.parent / "shared" / "data" / "labels"
AFLW = LABELS / "aflw2000_subset"
needs_aflw = pytest.mark.skipif(not AFLW.is_dir(), reason=f"labelled AFLW2000 samples absent ({AFLW})")


def test_wilson_interval_matches_the_textbook_values():
    # Wilson 95 % for 8/10: 0.4902-0.9433 (Newcombe 1998, table I); 0/10: 0-0.2775
    est = proportion(8, 10)
    assert (est.value, est.n) == (0.8, 10)
    assert est.low == pytest.approx(0.4902, abs=1e-4) and est.high == pytest.approx(0.9433, abs=1e-4)
    assert proportion(0, 10).high == pytest.approx(0.2775, abs=1e-4)
    assert math.isnan(proportion(0, 0).value)


def test_bootstrap_is_seeded_and_agrees_with_scipy():
    x = np.random.default_rng(3).normal(5.0, 2.0, 200)
    a, b = bootstrap(x), bootstrap(x)
    assert a == b  # same seed, same interval
    ref = sps.bootstrap((x,), np.mean, method="percentile", n_resamples=4000, random_state=0).confidence_interval
    assert a.value == pytest.approx(x.mean())
    # two Monte-Carlo percentile intervals of the same data: within 0.05 (the CI half-width is ~0.28)
    assert a.low == pytest.approx(ref.low, abs=0.05) and a.high == pytest.approx(ref.high, abs=0.05)
    assert bootstrap([np.nan, np.nan]).n == 0


def test_errors_detection_and_confusion_count_every_item():
    err = errors([1.0, -1.0, np.nan, 4.0], [0.0, 0.0, 0.0, 2.0])
    assert (err.mae.value, err.bias.value, err.mae.n, err.missing) == (pytest.approx(4 / 3), pytest.approx(2 / 3), 3, 1)
    d = detection([True, True, False, False, True], [True, False, True, False, True])
    assert (d.tp, d.fp, d.fn, d.tn) == (2, 1, 1, 1)
    assert d.precision.value == pytest.approx(2 / 3) and d.recall.value == pytest.approx(2 / 3)
    table = confusion(["a", "b", "unknown"], ["a", "a", "b"], ["a", "b"])
    assert table.splitlines()[0] == "| true \\ tagged | a | b | unknown |"
    assert table.splitlines()[2:] == ["| a | 1 | 1 | 0 |", "| b | 0 | 0 | 1 |"]


@pytest.mark.parametrize("pitch,yaw,roll", [(0.1, 0.0, 0.0), (0.0, 0.1, 0.0), (0.0, 0.0, 0.1)])
def test_aflw_small_angles_follow_the_readme_signs(pitch, yaw, roll):
    # README: for small angles yaw = -aflw_yaw, pitch = +aflw_pitch, roll = -aflw_roll
    got_yaw, got_pitch, got_roll, valid = aflw_angles(np.array([[pitch, yaw, roll, 0, 0, 0, 1]]))
    assert valid
    deg = math.degrees
    assert (got_yaw, got_pitch, got_roll) == pytest.approx((-deg(yaw), deg(pitch), -deg(roll)), abs=1e-9)
    assert not aflw_angles(np.array([math.radians(100), 0, 0]))[3]


def test_a_full_aflw_download_is_read_without_a_manifest(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "image00001.jpg")
    savemat(tmp_path / "image00001.mat", {"Pose_Para": np.array([[-0.2, 0.3, 0.05, 0, 0, 0, 1]])})
    (sample,) = load_aflw2000(tmp_path)
    assert sample.image == tmp_path / "image00001.jpg" and sample.valid
    assert (sample.yaw, sample.pitch, sample.roll) == pytest.approx(aflw_angles([-0.2, 0.3, 0.05])[:3])
    Image.new("RGB", (8, 8)).save(tmp_path / "image00002.jpg")
    with pytest.raises(LabelError, match="image00002.jpg: no image00002.mat"):
        load_aflw2000(tmp_path)


def test_a_manifest_with_a_missing_file_names_the_row(tmp_path):
    (tmp_path / "m.csv").write_text("file,x\na.jpg,1\n")
    with pytest.raises(LabelError, match=r"m.csv:2: listed file a.jpg does not exist"):
        read_manifest(tmp_path / "m.csv")


@needs_aflw
def test_shared_manifest_angles_are_the_converted_pose_para():
    for sample in load_aflw2000(AFLW):
        pose_para = loadmat(str(AFLW / "mat" / f"{sample.image.stem}.mat"))["Pose_Para"]
        yaw, pitch, roll, valid = aflw_angles(pose_para)
        assert (sample.yaw, sample.pitch, sample.roll) == pytest.approx((yaw, pitch, roll), abs=0.006)
        assert sample.valid == valid


def test_benchmark_skips_with_a_reason_without_labels(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.tags_bench", "--labels", str(tmp_path / "absent")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0 and "skipped: no labelled data" in run.stdout


def test_every_registered_section_imports_with_a_run_function():
    from benchmarks.tagbench import SECTIONS

    assert "pose" in SECTIONS
    for name in SECTIONS.names():
        assert callable(SECTIONS.get(name)), name


@pytest.mark.skipif(not (LABELS / "face_mask").is_dir(), reason=f"labelled face_mask samples absent ({LABELS})")
def test_shared_csv_manifests_read_with_every_file_present():
    rows = read_manifest(LABELS / "face_mask" / "manifest.csv")
    assert len(rows) == 50 and {r["mouth_nose_covered"] for r in rows} == {"0", "1"}
    assert all(Path(r["path"]).is_file() for r in rows)


def test_a_mask_sample_without_a_label_folder_names_it(tmp_path):
    (tmp_path / "with_mask").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "with_mask" / "a.png")
    with pytest.raises(FileNotFoundError, match="without_mask: no photos"):
        masks.sample_rows([tmp_path])
