"""The shipped synthetic suites are what their recipe regenerates (deterministic, offline).

Lighting is compared byte for byte. Geometric warps go through interpolation code whose last bit can
differ between builds of the same library (seen between two OpenCV wheels), so geometry is compared
pixel for pixel within a few grey levels (a perturbation level moves far more).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers.media import REPO

pytest.importorskip("mediapipe")


def _regenerate(axis: str, tmp_path):
    out = tmp_path / f"synth_{axis}.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_harness.cli",
            "suites",
            "synth",
            "--from",
            "data/synthetic/source.yaml",
            "--axis",
            axis,
            "--levels",
            "2",
            "--resolution",
            "128",
            "--max-frames",
            "6",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path / f"synth_{axis}", REPO / "data" / "synthetic" / f"synth_{axis}"


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


@pytest.mark.slow  # regenerates a shipped suite end to end
def test_shipped_lighting_suite_regenerates_byte_for_byte(tmp_path):
    made, shipped = _regenerate("lighting", tmp_path)
    names = _files(shipped)
    assert names and _files(made) == names
    for name in names:
        assert (
            hashlib.sha256((made / name).read_bytes()).digest()
            == hashlib.sha256((shipped / name).read_bytes()).digest()
        ), name


@pytest.mark.slow  # regenerates a shipped suite end to end
def test_shipped_geometry_suite_regenerates_within_a_few_grey_levels(tmp_path):
    made, shipped = _regenerate("geometry", tmp_path)
    names = _files(shipped)
    assert names and _files(made) == names
    for name in names:
        a = np.asarray(Image.open(made / name), dtype=np.int16)
        b = np.asarray(Image.open(shipped / name), dtype=np.int16)
        assert np.abs(a - b).max() <= 4 and (a != b).mean() < 0.02, name
