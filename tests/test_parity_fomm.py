"""FOMM parity with the official first-order-model code (fixtures from tests/parity/make_fixtures.py)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from qa_harness.models.fomm import build
from qa_harness.reference_models.blocks.keypoints import movement_scale, relative_keypoints
from qa_harness.reference_models.fomm import SPEC
from qa_harness.reference_models.fomm.network import FOMM
from qa_harness.reference_models.spec import build_reference
from tests.parity.checks import (
    assert_outputs_match,
    check_full,
    check_names_and_shapes,
    check_tiny,
    official_config_names,
    tiny_network,
)
from tests.parity.common import TINY_CONFIGS


def run_ours(network: FOMM, frames: Tensor) -> dict[str, Tensor]:
    """The outputs `official_fomm.run` records, from our network (frames[0] = source)."""
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    kp_source, kp_driving = network.kp_detector(source), network.kp_detector(driving)
    generated = network.generator(source.expand(n, -1, -1, -1), kp_driving, kp_source.expand(n))
    out = {
        "kp_source.value": kp_source.value,
        "kp_source.jacobian": kp_source.jacobian,
        "kp_driving.value": kp_driving.value,
        "kp_driving.jacobian": kp_driving.jacobian,
    }
    out |= {
        k: generated[k] for k in ("mask", "sparse_deformed", "occlusion_map", "deformed", "prediction", "deformation")
    }
    if n < 2:  # full-size fixtures record the absolute mode only
        return out
    kp_initial = network.kp_detector(driving[:1])
    relative = relative_keypoints(kp_source, kp_driving, kp_initial, movement_scale(kp_source, kp_initial))
    out["relative.value"], out["relative.jacobian"] = relative.value, relative.jacobian
    out["relative.prediction"] = network.generator(source.expand(n, -1, -1, -1), relative, kp_source.expand(n))[
        "prediction"
    ]
    return out


def test_every_official_config_builds_with_official_parameter_count():
    for path in sorted(SPEC.configs_dir.glob("*.yaml")):
        with torch.device("meta"):
            network, _ = build_reference(SPEC, path)
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in network.checkpoint_networks().items()}
        # REFERENCE.md 3: generator 45.58 M; kp_detector 14.22 M (mgif: single Jacobian map, 4 channels).
        assert round(counts["generator"] / 1e6, 2) == 45.58, path.name
        assert round(counts["kp_detector"] / 1e6, 2) == 14.22 or "mgif" in path.name, path.name


@pytest.mark.parametrize("config", official_config_names(SPEC))
def test_names_and_shapes_match_official(config):
    check_names_and_shapes(SPEC, config)


def test_every_official_config_is_shipped():
    assert sorted(p.stem for p in SPEC.configs_dir.glob("*.yaml")) == official_config_names(SPEC)


def test_tiny_config_reproduces_official_outputs():
    check_tiny(SPEC, run_ours)


def test_vox256_reproduces_official_outputs():
    check_full(SPEC, "vox-256", run_ours)


def test_adapter_matches_official_in_both_modes(tmp_path):
    """The Animator, given an official-layout checkpoint, renders what the official code rendered:
    absolute = generator outputs; relative = demo `normalize_kp` with adapt_movement_scale, per frame."""
    network, fixture = tiny_network(SPEC)
    checkpoint = tmp_path / "tiny-cpk.pth.tar"
    torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()} | {"epoch": 3}, checkpoint)
    frames, expected = fixture["frames"], fixture["outputs"]
    config = TINY_CONFIGS / "fomm-tiny.yaml"
    for relative, name in ((False, "prediction"), (True, "relative.prediction")):
        # The fixture is the official demo's `make_animation(..., adapt_movement_scale=True)`.
        animator = build(
            checkpoint=checkpoint, device="cpu", config=config, relative=relative, adapt_movement_scale=True
        )
        assert animator.resolution == 64 and animator.needs_driving_first is relative
        state = animator.prepare(frames[0], driving_first=frames[1] if relative else None)
        assert_outputs_match(
            {name: animator.animate(state, frames[1:])},
            {name: expected[name]},
            label=f"fomm adapter relative={relative}",
        )


def test_source_encoded_once_gives_the_same_frames():
    """The adapter encodes the source once per batch and views it n times: identical to encoding n copies."""
    network, fixture = tiny_network(SPEC)
    frames = fixture["frames"]
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    with torch.no_grad():
        kp_source, kp_driving = network.kp_detector(source), network.kp_detector(driving)
        sources = source.expand(n, -1, -1, -1)
        levels = [level.expand(n, *level.shape[1:]) for level in network.generator.encode(source)]
        once = network.generator(sources, kp_driving, kp_source.expand(n), levels)["prediction"]
        copies = network.generator(sources, kp_driving, kp_source.expand(n))["prediction"]
    torch.testing.assert_close(once, copies, atol=1e-6, rtol=0)


def test_adapter_encodes_the_source_once_per_pair(tmp_path):
    """`prepare` encodes the source; `animate` reuses those features for every batch (the official loop
    re-encodes per frame) and still renders the official frames."""
    network, fixture = tiny_network(SPEC)
    checkpoint = tmp_path / "tiny-cpk.pth.tar"
    torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()}, checkpoint)
    animator = build(checkpoint=checkpoint, device="cpu", config=TINY_CONFIGS / "fomm-tiny.yaml")
    generator, calls = animator.network.generator, []
    encode = generator.encode
    generator.encode = lambda source: calls.append(source.shape) or encode(source)
    frames = fixture["frames"]
    state = animator.prepare(frames[0])
    batches = [animator.animate(state, frames[i : i + 1]) for i in range(1, frames.shape[0])]
    assert calls == [torch.Size([1, 3, 64, 64])]
    assert_outputs_match(
        {"prediction": torch.cat(batches)}, {"prediction": fixture["outputs"]["prediction"]}, label="fomm batches"
    )
