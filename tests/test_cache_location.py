"""Where suite caches go: beside a user's suite, never into the installed package (`packaged.suite_cache_dir`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.packaged import CACHE_ENV, DEMO_SUITE, asset, suite_cache_dir
from tests.helpers.media import REPO


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    """An empty XDG cache home and no `$QA_HARNESS_CACHE`: the user cache is `<tmp>/xdg/qa_harness`."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "qa_harness"


def test_a_users_suite_caches_beside_itself(tmp_path, user_cache):
    assert suite_cache_dir(tmp_path / "mine.yaml") == tmp_path / ".qa_cache"


def test_shipped_suites_cache_in_the_user_cache(user_cache, monkeypatch, tmp_path):
    """The package's own suites (the demo; any manifest under the package folder) never get a cache there."""
    assert suite_cache_dir(DEMO_SUITE) == suite_cache_dir(asset("suites", "gate.yaml")) == user_cache
    assert suite_cache_dir(REPO / "suites" / "demo.yaml") == user_cache  # the checkout's link to the assets
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "chosen"))
    assert suite_cache_dir(DEMO_SUITE) == suite_cache_dir(tmp_path / "mine.yaml") == tmp_path / "chosen"


def test_a_read_only_suite_folder_caches_in_the_user_cache(tmp_path, user_cache):
    """Probed in a child process on a read-only folder: chmod for a user; a read-only bind mount in a
    private mount namespace for root (whom chmod does not stop)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    probe = f"from qa_harness.packaged import suite_cache_dir; print(suite_cache_dir('{folder}/s.yaml'))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if os.geteuid() != 0:
        folder.chmod(0o555)
        cmd = [sys.executable, "-c", probe]
    else:
        if not shutil.which("unshare"):
            pytest.skip("root without unshare(1): no way to make a folder read-only for root")
        mount = f'mount --bind -o ro {folder} {folder} && exec {sys.executable} -c "{probe}"'
        cmd = ["unshare", "-m", "sh", "-c", mount]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if os.geteuid() == 0 and done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"no private read-only bind mount here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(user_cache)


def test_the_runner_writes_face_analysis_where_the_rule_says(write_suite, tmp_path, tracking_uri, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "chosen"))
    suite = write_suite(
        {
            "name": "cache",
            "resolution": 128,
            "max_frames": 3,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    cfg = EvalConfig(
        suite=suite, model="driving", metrics=("akd",), out_dir=tmp_path / "run", tracking_uri=tracking_uri
    )
    assert not run_evaluation(cfg).failed
    assert len(list((tmp_path / "chosen" / "face").rglob("*.npz"))) == 1  # the ground truth's one batch
    assert not (suite.parent / ".qa_cache").exists()
