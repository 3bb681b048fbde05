"""LPIPS parity with the `lpips` package 0.1.4 (the reference), weight lookup and its errors.

Reference call: `lpips.LPIPS(net=..., verbose=False)(2x - 1, 2y - 1)`, imported through the
torchvision bypass (tests/helpers/torchvision_bypass.py). Both sides use the same seeded random
backbone weights (the ImageNet files are not on this machine) and the real linear-layer files the
`lpips` distribution ships. Tolerance 1e-5 absolute: the same float32 operations, batched differently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qa_harness.catalog import DEFAULT_METRICS, METRICS
from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.metrics.base import FrameBatch, MetricContext
from qa_harness.metrics.lpips import LPIPS
from qa_harness.metrics.lpips_net import ALEXNET, VGG16, Backbone, LpipsNet
from qa_harness.records import Clip, Pair
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS, REPO
from tests.helpers.torchvision_bypass import import_lpips, torchvision_models

ATOL = 1e-5
CPU = MetricContext(device=torch.device("cpu"))


@pytest.fixture(scope="module")
def weight_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """TORCH_HOME and QA_HARNESS_WEIGHTS folders for this module (module fixtures are built under them)."""
    root = tmp_path_factory.mktemp("weights")
    dirs = {"torch_home": root / "torch", "qa": root / "qa_harness"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(dirs["torch_home"]))
        mp.setenv("QA_HARNESS_WEIGHTS", str(dirs["qa"]))
        mp.setattr(torch.hub, "download_url_to_file", _no_download)
        yield dirs


@pytest.fixture(autouse=True)
def module_weight_folders(hermetic_weight_folders: None, weight_dirs: dict[str, Path], monkeypatch) -> None:
    """Point each test at this module's folders again, after conftest's per-test empty ones."""
    monkeypatch.setenv("TORCH_HOME", str(weight_dirs["torch_home"]))
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(weight_dirs["qa"]))


def _no_download(url: str, *args: object, **kwargs: object) -> None:
    raise AssertionError(f"a test tried to download {url}")


@pytest.fixture(scope="module")
def alex_file(weight_dirs: dict[str, Path]) -> Path:
    """A seeded random torchvision AlexNet state dict (all keys), saved where torch hub caches it."""
    torch.manual_seed(0)
    path = weight_dirs["torch_home"] / "hub" / "checkpoints" / ALEXNET.backbone_file
    path.parent.mkdir(parents=True)
    torch.save(torchvision_models().alexnet().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def alex_reference(alex_file: Path) -> torch.nn.Module:
    """`lpips.LPIPS(net='alex')`, which finds the cached backbone file and downloads nothing."""
    reference = import_lpips().LPIPS(net="alex", verbose=False)
    file_state = torch.load(alex_file, weights_only=True)
    torch.testing.assert_close(reference.net.slice1[0].weight, file_state["features.0.weight"], rtol=0, atol=0)
    return reference


@pytest.fixture(scope="module")
def frame_pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """6 pairs at 64 px: real frames (same clip, other clip, identical) and seeded random images."""
    a = next(iter_frames(CLIPS / "d12.mp4", resolution=64, chunk=41))[[0, 20, 40]]
    b = next(iter_frames(CLIPS / "lp_d11.mp4", resolution=64, chunk=31))[[0, 30]]
    noise = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    # pairs: d12 frame 20 vs 0, d12 vs lp_d11, identical, lp_d11 frame 30 vs 0, two random pairs
    output = torch.cat([a[1:2], a[0:1], a[2:3], b[1:2], noise[:2]])
    target = torch.cat([a[0:1], b[0:1], a[2:3], b[0:1], noise[2:]])
    return output, target


def _reference(net: torch.nn.Module, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(output * 2 - 1, target * 2 - 1).flatten()


def test_alex_matches_lpips_package(alex_reference, frame_pairs) -> None:
    output, target = frame_pairs
    ours = METRICS.build("lpips", CPU).distance(output, target)
    expected = _reference(alex_reference, output, target)
    torch.testing.assert_close(ours, expected, atol=ATOL, rtol=0)
    assert ours[2].abs() < 1e-7  # the identical pair
    assert (expected[[0, 1, 3, 4, 5]] > 0.01).all()  # distinct pairs are far from 0, so the check can fail


def test_alex_matches_on_odd_sizes_and_per_frame(alex_reference) -> None:
    generator = torch.Generator().manual_seed(2)
    output, target = torch.rand(2, 2, 3, 70, 93, generator=generator)
    metric = METRICS.build("lpips", CPU)
    batched = metric.distance(output, target)
    torch.testing.assert_close(batched, _reference(alex_reference, output, target), atol=ATOL, rtol=0)
    one_by_one = torch.cat([metric.distance(o[None], t[None]) for o, t in zip(output, target, strict=True)])
    torch.testing.assert_close(batched, one_by_one, atol=1e-6, rtol=0)


def test_warm_reference_cache_skips_the_ground_truth_and_matches_bit_for_bit(alex_reference, frame_pairs, tmp_path):
    """Issue 18: the ground truth's unit maps are cached; a warm instance passes only the outputs through the
    backbone, and every distance equals the uncached joint pass's bit for bit (oneDNN's maps are per image)."""
    output, target = frame_pairs
    plain = METRICS.build("lpips", CPU)  # no cache folder: the joint pass of output and ground truth
    uncached = plain.distance(output, target)
    ctx = MetricContext(device=torch.device("cpu"), cache_dir=tmp_path, suite_version="v1")
    cold = METRICS.build("lpips", ctx, cache_reference=True)
    assert torch.equal(cold.distance(output, target), uncached) and cold.reference_frames == len(target)
    files = list((tmp_path / "lpips").rglob("*.npy"))
    assert len(files) == 1 and files[0].parent.name == "v1"
    warm = METRICS.build("lpips", ctx, cache_reference=True)
    assert torch.equal(warm.distance(output, target), uncached) and warm.reference_frames == 0
    other = target.flip(0)  # other ground truth: a miss, not a stale hit
    assert torch.equal(warm.distance(output, other), plain.distance(output, other))
    assert warm.reference_frames == len(target)
    np.save(files[0], np.zeros((1, 3), np.float32))  # a file that does not fit: computed again, not used
    assert torch.equal(warm.distance(output, target), uncached) and warm.reference_frames == 2 * len(target)
    assert METRICS.build("lpips", ctx, cache_reference=False).reference.folder is None


def test_vgg_matches_lpips_package(weight_dirs, frame_pairs) -> None:
    """VGG16: the reference's seeded random trunk, saved under torchvision names in $QA_HARNESS_WEIGHTS."""
    torch.manual_seed(3)
    reference = import_lpips().LPIPS(net="vgg", pnet_rand=True, verbose=False)
    # lpips keeps torchvision's indices inside its slices: slice2.5.weight is features.5.weight.
    features = {f"features.{key.split('.', 1)[1]}": v for key, v in reference.net.state_dict().items()}
    weight_dirs["qa"].mkdir(exist_ok=True)
    torch.save(features, weight_dirs["qa"] / VGG16.backbone_file)
    output, target = frame_pairs
    metric = METRICS.build("lpips_vgg", CPU)
    expected = _reference(reference, output, target)
    torch.testing.assert_close(metric.distance(output, target), expected, atol=ATOL, rtol=0)
    assert (expected[[0, 1, 3, 4, 5]] > 0.01).all()


@pytest.mark.parametrize("spec", [ALEXNET, VGG16], ids=["alex", "vgg"])
def test_min_size_is_exact(spec) -> None:
    net = LpipsNet(spec).eval()
    smallest = torch.rand(1, 3, spec.min_size, spec.min_size)
    assert net(smallest, smallest).shape == (1,)
    too_small = smallest[..., 1:, :]
    with pytest.raises(ValueError, match=f"frames must be at least {spec.min_size} px"):
        net(too_small, too_small)


@pytest.mark.parametrize("spec", [ALEXNET, VGG16], ids=["alex", "vgg"])
def test_backbone_names_and_shapes_are_torchvisions(spec) -> None:
    models = torchvision_models()
    with torch.device("meta"):
        tv_state = (models.alexnet() if spec is ALEXNET else models.vgg16()).features.state_dict()
    ours = Backbone(spec).features.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in tv_state.items()}


@pytest.mark.parametrize("build_name,spec", [("lpips", ALEXNET), ("lpips_vgg", VGG16)])
def test_missing_backbone_names_file_url_and_folders(build_name, spec, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "qa"))
    with pytest.raises(WeightsUnavailableError) as info:
        METRICS.build(build_name, CPU)
    message = str(info.value)
    for part in (
        spec.backbone_file,
        spec.backbone_url,
        str(tmp_path / "qa"),
        str(tmp_path / "torch/hub/checkpoints"),
    ):
        assert part in message


def test_missing_explicit_backbone_path(tmp_path) -> None:
    with pytest.raises(WeightsUnavailableError, match=f"{tmp_path / 'nope.pth'}: weight file not found"):
        LPIPS(ALEXNET, name="lpips", device=torch.device("cpu"), backbone=tmp_path / "nope.pth")


def test_wrong_keys_and_shapes_name_file_and_keys(alex_file, tmp_path) -> None:
    state = torch.load(alex_file, weights_only=True)
    state["features.3.weight"] = state["features.3.weight"][:, :32]
    state["features.99.weight"] = state.pop("features.10.weight")
    bad = tmp_path / "alexnet_bad.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError) as info:
        LPIPS(ALEXNET, name="lpips", device=torch.device("cpu"), backbone=bad)
    message = str(info.value)
    assert message.startswith(f"{bad}: does not fit the LPIPS 'alex' backbone")
    assert "missing keys: features.10.weight" in message
    assert "unexpected keys: features.99.weight" in message
    assert "features.3.weight (file (192, 32, 5, 5), network (192, 64, 5, 5))" in message


def test_not_a_state_dict_names_file(tmp_path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match=f"{garbage}: not a torch checkpoint"):
        LPIPS(ALEXNET, name="lpips", device=torch.device("cpu"), backbone=garbage)
    a_list = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], a_list)
    with pytest.raises(CheckpointError, match=f"{a_list}: expected a state dict"):
        LPIPS(ALEXNET, name="lpips", device=torch.device("cpu"), backbone=a_list)


def test_metric_contract(alex_file, frame_pairs) -> None:
    assert "lpips" in DEFAULT_METRICS
    metric = METRICS.build("lpips", CPU)
    assert [(c.name, c.higher_is_better, c.low) for c in metric.columns] == [("lpips", False, 0.0)]
    clip = Clip(id="d12", path=CLIPS / "d12.mp4", fps=25.0, frame_count=183, size=(512, 512))
    output, target = frame_pairs
    pair = Pair(id="d12", source=clip, driving=clip, protocol="reconstruction")
    batch = FrameBatch(pair, torch.arange(6), output, target, target[0], target)
    values = metric.frame_values(batch)
    assert values.keys() == {"lpips"} and values["lpips"].shape == (6,) and values["lpips"].dtype == torch.float32
    cross = Pair(id="x", source=clip, driving=clip, protocol="cross")
    with pytest.raises(ValueError, match="lpips: needs ground truth, but pair 'x' has none"):
        metric.frame_values(FrameBatch(cross, torch.arange(6), output, target, target[0], None))


@pytest.mark.slow  # a subprocess
def test_product_imports_neither_torchvision_nor_lpips(alex_file, weight_dirs) -> None:
    """Build and run the metric in a fresh interpreter; the linear-layer files are located, not imported."""
    code = (
        "import sys, torch\n"
        "from qa_harness.catalog import METRICS\n"
        "from qa_harness.metrics.base import MetricContext\n"
        "metric = METRICS.build('lpips', MetricContext(device=torch.device('cpu')))\n"
        "print(float(metric.distance(torch.zeros(1, 3, 64, 64), torch.ones(1, 3, 64, 64))[0]))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torchvision', 'lpips')))\n"
    )
    env = {
        **os.environ,
        "TORCH_HOME": str(weight_dirs["torch_home"]),
        "QA_HARNESS_WEIGHTS": str(weight_dirs["qa"]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    value, modules = result.stdout.split("\n")[:2]
    assert float(value) > 0 and modules == "[]"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_matches_cpu(alex_file, frame_pairs) -> None:
    output, target = frame_pairs
    on_gpu = METRICS.build("lpips", MetricContext(device=torch.device("cuda"))).distance(output, target)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), METRICS.build("lpips", CPU).distance(output, target), atol=1e-4, rtol=0)
