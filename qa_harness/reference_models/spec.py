"""What the adapters need to know about one reference model, and the one function that builds and loads it.

Each model package (`qa_harness.reference_models.fomm`, ...) defines a `SPEC`; `load_reference(SPEC, config=...,
checkpoint=...)` reads the official YAML config (a name from the package's `configs/` or a path), builds the
network from `model_params`, finds the checkpoint (explicit path or weight cache) and loads the official
top-level keys with strict names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from qa_harness.reference_models.checkpoint import (
    load_subnetworks,
    load_yaml_config,
    locate_checkpoint,
    read_checkpoint,
)


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
    #: `model_params` dict -> network with `checkpoint_networks() -> {top-level key: module}` (required keys)
    #: and optionally `optional_networks()` (loaded, with the same strict checks, when the file has them:
    #: TPSMM/MRAA `avd_network` exists only after AVD training).
    build: Callable[[dict[str, Any]], nn.Module]
    #: Config section handed to `build`; None = the whole config (MRFA has no `model_params`).
    config_section: str | None = "model_params"
    #: A section every official config of this model has (checked when a config is read).
    required_section: str = "model_params"
    #: (path, checkpoint content) -> {top-level key: state dict} when the file's layout differs from
    #: `checkpoint_networks()` (MRFA: one DataParallel-wrapped 'model' with loss-only entries).
    unpack_checkpoint: Callable[[Path, Mapping[str, Any]], Mapping[str, Any]] | None = None

    def load_config(self, config: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
        """(path, content) of an official config of this model (default: the spec's)."""
        return load_yaml_config(config or self.default_config, self.configs_dir, required=self.required_section)


def build_reference(spec: ReferenceSpec, config: str | Path | None = None) -> tuple[nn.Module, Path]:
    """The network built from an official config (default: the spec's), in eval mode, and the config path."""
    path, content = spec.load_config(config)
    return spec.build(content if spec.config_section is None else content[spec.config_section]).eval(), path


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
    content = read_checkpoint(path, trust_checkpoint=trust_checkpoint)
    if spec.unpack_checkpoint is not None:
        content = spec.unpack_checkpoint(path, content)
    optional = getattr(network, "optional_networks", dict)()
    networks = network.checkpoint_networks() | {key: m for key, m in optional.items() if key in content}
    load_subnetworks(path, content, networks)
    return network
