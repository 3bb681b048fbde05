"""Shared fixtures: real frames from the shipped clips, temporary suites and MLflow stores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS, REPO

#: Fixtures that build the gate tests' simulated runs (tests/gate/gate_runs.py: real metrics on every frame of
#: six clips, about a minute once per session): a test that uses one is end to end, hence `slow`.
SIMULATED_RUNS = {"baseline_run", "rerun", "regressed_runs", "store", "report_file"}


#: Tests over a few seconds marked `slow` by node id (measured seconds and how to regenerate: the file's header).
SLOW_LIST = Path(__file__).with_name("slow_tests.txt")


def _slow_tests() -> tuple[str, ...]:
    """The node ids of SLOW_LIST; each must name a folder, file or test function that exists (a renamed test
    must not leave the list silently)."""
    entries = []
    for number, line in enumerate(SLOW_LIST.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        entry = line[-1]
        path, _, name = entry.partition("::")
        where = REPO / path
        if not where.exists() or (name and f"def {name}(" not in where.read_text()):
            raise pytest.UsageError(f"{SLOW_LIST}:{number}: {entry!r} names no test")
        entries.append(entry)
    return tuple(entries)


def _listed(nodeid: str, entries: tuple[str, ...]) -> bool:
    """A folder or file entry covers its tests; a function entry every parameter of that function."""
    function = nodeid.split("[", 1)[0]
    return any(function == e or (e.endswith(("/", ".py")) and nodeid.startswith(e)) for e in entries)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = _slow_tests()
    for item in items:
        if SIMULATED_RUNS & set(getattr(item, "fixturenames", ())) or _listed(item.nodeid, slow):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def hermetic_weight_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty weight caches for every test, so a developer's downloaded weights never change a result."""
    empty = tmp_path_factory.mktemp("no_weights")
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(empty / "qa_harness"))
    monkeypatch.setenv("TORCH_HOME", str(empty / "torch"))
    monkeypatch.delenv("QA_HARNESS_CACHE", raising=False)  # suite caches where `packaged.suite_cache_dir` puts them


@pytest.fixture(scope="session")
def real_frames() -> tuple[torch.Tensor, torch.Tensor]:
    """(8, 3, 128, 128) float64 output/target pairs: frame t vs frame t+4 of two real clips."""
    a = next(iter_frames(CLIPS / "d20.mp4", resolution=128, chunk=8))
    b = next(iter_frames(CLIPS / "tpsmm_driving.mp4", resolution=128, chunk=8))
    output = torch.cat([a[:4], b[:4]]).double()
    target = torch.cat([a[4:], b[4:]]).double()
    return output, target


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a manifest dict (data_root defaults to the repo's data/) and return its path."""

    def write(manifest: dict, name: str = "suite.yaml") -> Path:
        manifest = {"data_root": str(REPO / "data"), **manifest}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def seeded_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A $QA_HARNESS_WEIGHTS folder with seeded random LPIPS, FAN/S3FD and OpenFace weights (real ones absent)."""
    from qa_harness.metrics.lpips_net import ALEXNET, VGG16, Backbone

    folder = tmp_path_factory.mktemp("qa_weights")
    torch.manual_seed(0)
    for spec in (ALEXNET, VGG16):
        state = {f"features.{k}": v for k, v in Backbone(spec).features.state_dict().items()}
        torch.save(state, folder / spec.backbone_file)
    # The face metrics' papers-protocol backends (akd_fan, aed_openface), seeded; this S3FD finds no face,
    # which keeps FAN's forward pass (seconds per crop on a CPU) out of the contract test.
    from tests.helpers.face import write_fan_weights, write_openface_weights

    write_fan_weights(folder, finds_faces=False)
    write_openface_weights(folder)
    return folder


@pytest.fixture
def with_seeded_weights(seeded_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(seeded_weights_dir))
    return seeded_weights_dir
