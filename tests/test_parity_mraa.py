"""MRAA parity with the official articulated-animation code (fixtures from tests/parity/make_fixtures.py)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from qa_harness.models.mraa import build
from qa_harness.reference_models.blocks.keypoints import movement_scale, relative_keypoints
from qa_harness.reference_models.mraa import SPEC
from qa_harness.reference_models.mraa.network import MRAA
from qa_harness.reference_models.spec import build_reference
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

_REGION_KEYS = ("shift", "covar", "affine", "heatmap", "u", "d")


def run_ours(network: MRAA, frames: Tensor) -> dict[str, Tensor]:
    """The outputs `official_mraa.run` records, from our network (frames[0] = source)."""
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    out = network(source.expand(n, -1, -1, -1), driving)
    recorded = {f"source.{k}": out["source"][k][: len(out["source"][k]) // n] for k in _REGION_KEYS}
    recorded |= {f"driving.{k}": out["driving"][k] for k in _REGION_KEYS}
    recorded |= {k: out[k] for k in ("bg_params", "optical_flow", "deformed", "occlusion_map", "prediction")}
    kp_source, kp_driving = network.regions(source), network.regions(driving)
    avd = network.avd_network(kp_source.expand(n), kp_driving)
    recorded |= {"avd.shift": avd.value, "avd.affine": avd.jacobian, "avd.covar": avd.covar}
    if n < 2:  # full-size fixtures record the absolute mode only
        return recorded
    kp_initial = network.regions(driving[:1])
    relative = relative_keypoints(kp_source, kp_driving, kp_initial, movement_scale(kp_source, kp_initial))
    generated = network.generator(source.expand(n, -1, -1, -1), relative, kp_source.expand(n))
    recorded["relative.prediction"] = generated["prediction"]
    return recorded


def test_every_official_config_builds_with_official_parameter_count():
    # REFERENCE.md 4: generator 45.58 M, region_predictor 14.15 M, bg_predictor 6.28 M (none for bg_type
    # zero, mgif), avd 2.29 M; ted-youtube384 has 20 regions, hence slightly more.
    for path in sorted(SPEC.configs_dir.glob("*.yaml")):
        with torch.device("meta"):
            network, _ = build_reference(SPEC, path)
        counts = {k: round(sum(p.numel() for p in m.parameters()) / 1e6, 2) for k, m in all_networks(network).items()}
        if "youtube" in path.name:
            assert counts["generator"] > 45.58 and network.generator.pixelwise_flow_predictor.num_kp == 20
            continue
        bg = 0.0 if "mgif" in path.name else 6.28
        assert counts == {
            "generator": 45.58,
            "region_predictor": 14.15,
            "bg_predictor": bg,
            "avd_network": 2.29,
        }


@pytest.mark.parametrize("config", official_config_names(SPEC))
def test_names_and_shapes_match_official(config):
    check_names_and_shapes(SPEC, config)


def test_every_official_config_is_shipped():
    assert sorted(p.stem for p in SPEC.configs_dir.glob("*.yaml")) == official_config_names(SPEC)


def test_tiny_config_reproduces_official_outputs():
    check_tiny(SPEC, run_ours)


def test_vox256_reproduces_official_outputs():
    check_full(SPEC, "vox256", run_ours)


def test_adapter_matches_official_reconstruction_and_demo_relative(tmp_path):
    """Absolute = reconstruction.py outputs (bg_predictor each frame); relative = demo.make_animation
    (animation_mode='relative')."""
    network, fixture = tiny_network(SPEC)
    checkpoint = tmp_path / "tiny.pth"
    torch.save({key: m.state_dict() for key, m in all_networks(network).items()} | {"epoch_avd": 30}, checkpoint)
    frames, expected = fixture["frames"], fixture["outputs"]
    for relative, name in ((False, "prediction"), (True, "relative.prediction")):
        animator = build(checkpoint=checkpoint, config=TINY_CONFIGS / "mraa-tiny.yaml", relative=relative)
        state = animator.prepare(frames[0], driving_first=frames[1])
        assert_outputs_match(
            {name: animator.animate(state, frames[1:])},
            {name: expected[name]},
            label=f"mraa adapter relative={relative}",
        )
