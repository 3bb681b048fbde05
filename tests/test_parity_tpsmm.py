"""TPSMM parity with the official Thin-Plate-Spline-Motion-Model code (fixtures from
tests/parity/make_fixtures.py)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from qa_harness.models.tpsmm import build
from qa_harness.reference_models.blocks.keypoints import Keypoints, movement_scale, relative_keypoints
from qa_harness.reference_models.spec import build_reference
from qa_harness.reference_models.tpsmm import SPEC
from qa_harness.reference_models.tpsmm.network import TPSMM
from tests.parity.checks import (
    all_networks,
    assert_outputs_match,
    check_full,
    check_names_and_shapes,
    check_tiny,
    official_config_names,
    tiny_network,
)
from tests.parity.common import TINY_CONFIGS


def run_ours(network: TPSMM, frames: Tensor) -> dict[str, Tensor]:
    """The outputs `official_tpsmm.run` records, from our network (frames[0] = source)."""
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    out = network(source.expand(n, -1, -1, -1), driving)
    recorded = {
        k: out[k]
        for k in (
            "kp_driving",
            "deformation",
            "contribution_maps",
            "deformed_source",
            "deformed",
            "prediction",
        )
    }
    recorded["kp_source"] = out["kp_source"][:1]
    if out["bg_param"] is not None:
        recorded["bg_param"] = out["bg_param"]
    recorded |= {f"occlusion_map.{i}": m for i, m in enumerate(out["occlusion_map"])}
    recorded["avd"] = network.avd_network(out["kp_source"], out["kp_driving"])
    if n < 2:  # full-size fixtures record the absolute mode only
        return recorded
    kp_source, kp_initial = Keypoints(out["kp_source"][:1]), Keypoints(out["kp_driving"][:1])
    relative = relative_keypoints(
        kp_source, Keypoints(out["kp_driving"]), kp_initial, movement_scale(kp_source, kp_initial)
    )
    generated = network.generate(source.expand(n, -1, -1, -1), relative.value, out["kp_source"])
    recorded["relative.prediction"] = generated["prediction"]
    return recorded


def test_every_official_config_builds_with_official_parameter_count():
    # REFERENCE.md 2: the same counts for all four configs (bg_predictor only where `bg`).
    expected = {
        "inpainting_network": 24.74,
        "kp_detector": 11.23,
        "dense_motion_network": 37.94,
        "bg_predictor": 11.19,
        "avd_network": 2.58,
    }
    for path in sorted(SPEC.configs_dir.glob("*.yaml")):
        with torch.device("meta"):
            network, _ = build_reference(SPEC, path)
        counts = {k: round(sum(p.numel() for p in m.parameters()) / 1e6, 2) for k, m in all_networks(network).items()}
        assert counts == {k: v for k, v in expected.items() if k != "bg_predictor" or network.bg}, path.name
        assert network.bg == ("mgif" not in path.name)


@pytest.mark.parametrize("config", official_config_names(SPEC))
def test_names_and_shapes_match_official(config):
    check_names_and_shapes(SPEC, config)


def test_every_official_config_is_shipped():
    assert sorted(p.stem for p in SPEC.configs_dir.glob("*.yaml")) == official_config_names(SPEC)


def test_tiny_config_reproduces_official_outputs():
    check_tiny(SPEC, run_ours)


def test_vox256_reproduces_official_outputs():
    check_full(SPEC, "vox-256", run_ours)


def test_adapter_matches_official_reconstruction_and_demo_relative(tmp_path):
    """Absolute = reconstruction.py outputs (with bg_predictor);
    relative = demo.make_animation(mode='relative')."""
    network, fixture = tiny_network(SPEC)
    checkpoint = tmp_path / "tiny.pth.tar"
    torch.save({key: m.state_dict() for key, m in all_networks(network).items()} | {"epoch": 99}, checkpoint)
    frames, expected = fixture["frames"], fixture["outputs"]
    for relative, name in ((False, "prediction"), (True, "relative.prediction")):
        animator = build(checkpoint=checkpoint, config=TINY_CONFIGS / "tpsmm-tiny.yaml", relative=relative)
        state = animator.prepare(frames[0], driving_first=frames[1])
        assert_outputs_match(
            {name: animator.animate(state, frames[1:])},
            {name: expected[name]},
            label=f"tpsmm adapter relative={relative}",
        )


def test_source_encoded_once_gives_the_same_frames():
    """The adapter encodes the source once per batch and views it n times: identical to encoding n copies."""
    network, fixture = tiny_network(SPEC)
    source, driving = fixture["frames"][:1], fixture["frames"][1:]
    n = driving.shape[0]
    with torch.no_grad():
        kp_source, kp_driving = network.kp_detector(source), network.kp_detector(driving)
        sources, kp_sources = source.expand(n, -1, -1, -1), kp_source.expand(n, -1, -1)
        levels = [level.expand(n, *level.shape[1:]) for level in network.inpainting_network.encode(source)]
        once = network.generate(sources, kp_driving, kp_sources, None, levels)["prediction"]
        copies = network.generate(sources, kp_driving, kp_sources)["prediction"]
    torch.testing.assert_close(once, copies, atol=1e-6, rtol=0)
