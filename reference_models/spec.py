"""What the adapters need to know about one reference model, and the one function that builds and loads it.

Each model package (`reference_models.fomm`, ...) defines a `SPEC`; `load_reference(SPEC, config=...,
checkpoint=...)` reads the official YAML config (a name from the package's `configs/` or a path), builds the
network from `model_params`, finds the checkpoint (explicit path or weight cache) and loads the official
top-level keys with strict names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from reference_models.checkpoint import load_subnetworks, load_yaml_config, locate_checkpoint, read_checkpoint


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference model: where its configs live, how it is built and where its checkpoints come from."""

    name: str
    configs_dir: Path
    default_config: str
    #: Where the official checkpoints are published (quoted when one is missing).
    hosting: str
    #: Official checkpoint file name for a config name (e.g. 'vox-256' -> 'vox-cpk.pth.tar').
    checkpoint_file: Callable[[str], str]
    #: `model_params` dict -> network with `checkpoint_networks() -> {top-level key: module}`.
    build: Callable[[dict[str, Any]], nn.Module]


def build_reference(spec: ReferenceSpec, config: str | Path | None = None) -> tuple[nn.Module, Path]:
    """The network built from an official config (default: the spec's), in eval mode, and the config path."""
    path, content = load_yaml_config(config or spec.default_config, spec.configs_dir)
    return spec.build(content["model_params"]).eval(), path


def load_reference(
    spec: ReferenceSpec,
    *,
    config: str | Path | None = None,
    checkpoint: Path | str | None = None,
    trust_checkpoint: bool = False,
) -> nn.Module:
    """Build from the config and load the checkpoint (explicit path, else
    `$QA_HARNESS_WEIGHTS/<model>/<file>`)."""
    network, config_path = build_reference(spec, config)
    path = locate_checkpoint(
        spec.name, spec.checkpoint_file(config_path.stem), explicit=checkpoint, hosting=spec.hosting
    )
    load_subnetworks(
        path, read_checkpoint(path, trust_checkpoint=trust_checkpoint), network.checkpoint_networks()
    )
    return network
