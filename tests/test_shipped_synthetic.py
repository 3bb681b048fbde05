"""The shipped synthetic suites are exactly what their recipe regenerates (deterministic, offline)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tests.helpers.media import REPO

pytest.importorskip("mediapipe")


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


@pytest.mark.parametrize("axis", ["lighting", "geometry"])
def test_shipped_synthetic_suite_regenerates_byte_for_byte(axis, tmp_path):
    out = tmp_path / f"synth_{axis}.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", "suites", "synth", "--from", "data/synthetic/source.yaml",
         "--axis", axis, "--levels", "2", "--resolution", "128", "--max-frames", "6", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    shipped = _digests(REPO / "data" / "synthetic" / f"synth_{axis}")
    assert shipped and _digests(tmp_path / f"synth_{axis}") == shipped
