"""The package stands alone: a wheel installed (not editable) into a fresh venv tags a suite and runs the demo.

Offline and fast: the wheel is built from a copy of the sources without build isolation, installed with
`--no-deps` into a venv without pip, and only then given the project venv's dependencies through a `.pth`
file (added after the install, so pip never sees, or touches, the project's editable install). Every
command runs outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds and installs a wheel, runs the CLI
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


#: Without PYTHONPATH (the test run's points at the checkout), so nothing is read from the source tree.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(cmd: list, *, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel of this checkout."""
    root = tmp_path_factory.mktemp("package")
    src = root / "src"
    src.mkdir()
    shutil.copytree(REPO / "qa_harness", src / "qa_harness", ignore=shutil.ignore_patterns("__pycache__", ".qa_cache"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    _run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", root / "wheel", src], cwd=root)
    (wheel,) = (root / "wheel").glob("qa_harness-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    _run([*PIP, "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=root)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib], cwd=root).stdout.strip())
    (site / "_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _package_dir(venv: Path, cwd: Path) -> Path:
    code = "import qa_harness, os; print(os.path.dirname(qa_harness.__file__))"
    return Path(_run([venv / "bin" / "python", "-c", code], cwd=cwd).stdout.strip())


def test_installed_wheel_ships_assets_and_tags(venv, tmp_path):
    package = _package_dir(venv, tmp_path)
    assert package.is_relative_to(venv), package  # the installed copy, not the checkout
    shipped = sorted(
        p.relative_to(REPO / "qa_harness")
        for p in (REPO / "qa_harness" / "assets").rglob("*")
        if p.is_file() and ".qa_cache" not in p.parts
    )
    assert len(shipped) > 200 and all((package / p).is_file() for p in shipped), "package data missing"
    # the reference models' official configs travel with it too
    assert (package / "reference_models" / "mrfa" / "configs").is_dir()
    small = tmp_path / "small.yaml"  # one real clip, 3 frames: tagging with the shipped bins
    small.write_text(
        yaml.safe_dump(
            {
                "name": "small",
                "data_root": str(package / "assets" / "data"),
                "resolution": 128,
                "max_frames": 3,
                "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
                "pairs": ["d20"],
            }
        )
    )
    tag = [venv / "bin" / "qa-harness", "suites", "tag", small, "--out", tmp_path / "tagged.yaml"]
    _run(tag, cwd=tmp_path)
    tagged = yaml.safe_load((tmp_path / "tagged.yaml").read_text())
    shipped_bins = yaml.safe_load((package / "assets" / "suites" / "bins.yaml").read_text())
    assert tagged["bins"] == {axis: shipped_bins[axis] for axis in ("lighting", "pose", "occlusion")}
    assert tagged["clips"][0]["tags"]["lighting"] in shipped_bins["lighting"]["lighting"]["bins"]
    # a full demo's face cache goes to the user's cache folder, not into site-packages beside the media
    probe = "from qa_harness.packaged import DEMO_SUITE, suite_cache_dir; print(suite_cache_dir(DEMO_SUITE))"
    home = {k: v for k, v in ENV.items() if k not in ("QA_HARNESS_CACHE", "XDG_CACHE_HOME")} | {"HOME": str(tmp_path)}
    done = subprocess.run(
        [venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=home, capture_output=True, text=True
    )
    assert done.stdout.strip() == str(tmp_path / ".cache" / "qa_harness"), done.stderr


def test_installed_wheel_runs_the_demo(venv, tmp_path):
    """`qa-harness demo` (3 frames per pair) end to end: evaluation, the shipped default gate, the report."""
    done = _run(
        [
            venv / "bin" / "qa-harness",
            "demo",
            "--max-frames",
            "3",
            "--out",
            tmp_path / "demo",
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
        ],
        cwd=tmp_path,
    )
    assert "gate verdict: FAIL" in done.stdout, done.stdout[-2000:]  # identity vs driving must fail
    assert "gate default: FAIL" in done.stdout  # the shipped gates/default.yaml (its name is 'default')
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    assert not list(_package_dir(venv, tmp_path).rglob(".qa_cache")), "the smoke demo wrote into the package"
