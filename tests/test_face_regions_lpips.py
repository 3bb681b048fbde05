"""Region LPIPS: zero on the ground truth, catches frozen eyes, equals the `lpips` package on the same crops.

Both sides use one seeded random AlexNet backbone (the ImageNet file is not on this machine) and the
linear layers the `lpips` distribution ships; reference call `lpips.LPIPS(net="alex")(2x - 1, 2y - 1)`
on the crops, averaged over the two eyes. Tolerance 1e-5: the same float32 operations.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qa_harness.catalog import METRICS
from qa_harness.metrics._face_geometry import region_boxes, region_crops
from qa_harness.metrics.base import MetricContext
from qa_harness.metrics.face_regions_lpips import FaceRegionsLPIPS
from qa_harness.metrics.lpips_net import ALEXNET
from tests.helpers.face import make_batch, paste_regions, source_and_target
from tests.helpers.torchvision_bypass import import_lpips, torchvision_models

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def alex_torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TORCH_HOME whose hub cache holds a seeded random torchvision AlexNet (found by both sides)."""
    home = tmp_path_factory.mktemp("torch_home")
    path = home / "hub" / "checkpoints" / ALEXNET.backbone_file
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision_models().alexnet().state_dict(), path)
    return home


@pytest.fixture
def alex_backbone(alex_torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(alex_torch_home))  # after conftest's hermetic (empty) folders
    return alex_torch_home


def test_region_lpips_catches_frozen_eyes_and_matches_the_package(alex_backbone) -> None:
    metric = METRICS.build("face_regions_lpips", MetricContext(device=CPU))
    source, target = source_and_target()
    perfect = metric.frame_values(make_batch(target.clone(), target))
    assert (perfect["eye_lpips"] == 0).all() and (perfect["mouth_lpips"] == 0).all()

    points = metric.landmarks(target, suite_content=True).points
    frozen = paste_regions(target, source, region_boxes(points, "eye"))
    values = metric.frame_values(make_batch(frozen, target))
    assert (values["mouth_lpips"] == 0).all()  # the mouth box is untouched
    assert (values["eye_lpips"] > 0.05).all()

    reference = import_lpips().LPIPS(net="alex", verbose=False)
    outputs, targets = (region_crops(x, points, "eye", size=FaceRegionsLPIPS.crop_size) for x in (frozen, target))
    crops = zip(outputs, targets, strict=True)
    with torch.no_grad():
        expected = torch.stack([reference(o * 2 - 1, t * 2 - 1).flatten() for o, t in crops]).mean(dim=0)
    torch.testing.assert_close(values["eye_lpips"], expected, atol=1e-5, rtol=0)
