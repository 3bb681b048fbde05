"""Parity assertions shared by the per-model tests: our network against fixtures from the official code.

Tolerance: 1e-4 max-abs on CPU float32 (issue 8). The official and our code differ only in the order of
floating-point operations (broadcast vs repeat, fused expressions), which moves results by ~1e-6.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import torch
from torch import Tensor, nn

from qa_harness.reference_models.spec import ReferenceSpec, build_reference
from tests.parity.common import FIXTURES, TINY_CONFIGS, load_fixture, max_abs, names_and_shapes, seed_weights

TOLERANCE = 1e-4

#: ours(network, frames) -> {output name: tensor}, names as the official plug-in records them.
RunOurs = Callable[[nn.Module, Tensor], dict[str, Tensor]]


def assert_outputs_match(
    ours: dict[str, Tensor], expected: dict[str, Tensor], strides: dict[str, int] | None = None, *, label: str
) -> None:
    """Every recorded output is reproduced within TOLERANCE; reports all deviations at once."""
    from tests.parity.make_fixtures import strided

    missing = sorted(set(expected) - set(ours))
    assert not missing, f"{label}: outputs not produced by our implementation: {missing}"
    failures = []
    for name, reference in expected.items():
        value = strided(ours[name].float(), (strides or {}).get(name, 1))
        if value.shape != reference.shape:
            failures.append(f"{name}: shape {tuple(value.shape)} != {tuple(reference.shape)}")
        elif (error := max_abs(value, reference)) > TOLERANCE:
            failures.append(f"{name}: max-abs {error:.3g} > {TOLERANCE}")
    assert not failures, f"{label}:\n" + "\n".join(failures)


def all_networks(network: nn.Module) -> dict[str, nn.Module]:
    """Required and optional checkpoint sub-networks by top-level key."""
    return network.checkpoint_networks() | getattr(network, "optional_networks", dict)()


def tiny_network(spec: ReferenceSpec) -> tuple[nn.Module, dict]:
    """Our network from the tiny config, with the fixture's official state dicts loaded strictly (the
    fixed-size backbones the fixture does not store are refilled from the same name seeds)."""
    fixture = load_fixture(spec.name, "tiny")
    network, _ = build_reference(spec, TINY_CONFIGS / f"{spec.name}-tiny.yaml")
    for key, module in all_networks(network).items():
        if key in fixture["state_dicts"]:
            module.load_state_dict(fixture["state_dicts"][key], strict=True)
        else:
            seed_weights(module, fixture["seed"])
    return network, fixture


def check_tiny(spec: ReferenceSpec, run_ours: RunOurs) -> None:
    network, fixture = tiny_network(spec)
    with torch.no_grad():
        ours = run_ours(network, fixture["frames"])
    assert_outputs_match(ours, fixture["outputs"], label=f"{spec.name} tiny")


def official_config_names(spec: ReferenceSpec) -> list[str]:
    """Configs whose official names and shapes the fixtures hold (every config of the official repository)."""
    return sorted(p.stem for p in (FIXTURES / spec.name / "configs").glob("*.json"))


def check_names_and_shapes(spec: ReferenceSpec, config: str) -> None:
    """Our network built (on the meta device: no memory) from an official config has exactly the official
    parameter names and shapes, sub-network by sub-network, as the official code built them."""
    expected = json.loads((FIXTURES / spec.name / "configs" / f"{config}.json").read_text())
    with torch.device("meta"):
        network, _ = build_reference(spec, config)
    ours = {key: names_and_shapes(module) for key, module in all_networks(network).items()}
    assert ours.keys() == expected.keys(), f"{config}: sub-networks {sorted(ours)} != {sorted(expected)}"
    for key in expected:
        missing, extra = expected[key].keys() - ours[key].keys(), ours[key].keys() - expected[key].keys()
        assert not missing and not extra, f"{config} {key}: missing {sorted(missing)}, extra {sorted(extra)}"
        shapes = {name for name in expected[key] if ours[key][name] != expected[key][name]}
        assert not shapes, f"{config} {key}: shapes differ for {sorted(shapes)}"


def check_full(spec: ReferenceSpec, config: str, run_ours: RunOurs) -> None:
    """The full-size official config with name-seeded weights reproduces the recorded (strided) outputs."""
    fixture = load_fixture(spec.name, config)
    network, _ = build_reference(spec, config)
    for module in all_networks(network).values():
        seed_weights(module, fixture["seed"])
    with torch.no_grad():
        ours = run_ours(network, fixture["frames_uint8"].float() / 255)
    assert_outputs_match(ours, fixture["outputs"], fixture["strides"], label=f"{spec.name} {config}")
