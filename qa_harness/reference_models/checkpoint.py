"""Finding, reading and checking official checkpoints; reading official YAML configs.

Checkpoints are loaded with `torch.load(path, map_location="cpu", weights_only=True)`: the official
files hold only tensors, numbers and dicts, so nothing needs unpickling of code. A file that does is
refused unless the caller trusts it (`trust_checkpoint=True`, CLI `--trust-checkpoint`), because
unpickling runs arbitrary code.

Weight-file lookup (no download at run time): an explicit path, else `$QA_HARNESS_WEIGHTS/<model>/<file>`
(default `~/.cache/qa_harness/weights/<model>/<file>`); absent -> `WeightsUnavailableError` saying which file
to download from where and where to put it.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from qa_harness.errors import CheckpointError, ConfigError, WeightsUnavailableError
from qa_harness.weights import not_a_torch_file, refused_code, weights_dir

log = logging.getLogger(__name__)

#: Longest list of parameter names quoted per category in an error message.
_MAX_LISTED = 12


def locate_checkpoint(model: str, file_name: str, *, explicit: Path | str | None, hosting: str) -> Path:
    """The checkpoint to read: `explicit` if given (it must exist), else the cache location.

    `hosting` says where the official file is published; it goes into the error when the file is absent.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"{path}: checkpoint file not found ({model}; official file '{file_name}' is published at {hosting})"
            )
        return path
    path = weights_dir() / model / file_name
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{path}: {model} checkpoint not found. Download '{file_name}' from {hosting} "
            f"and put it at {path} (folder from $QA_HARNESS_WEIGHTS, default "
            f"~/.cache/qa_harness/weights), or pass --checkpoint PATH."
        )
    return path


def read_checkpoint(path: Path | str, *, trust_checkpoint: bool = False) -> dict[str, Any]:
    """The top-level dict of a checkpoint file, read on CPU with `weights_only=True`.

    A file that needs unpickling of code is refused with a `CheckpointError` unless `trust_checkpoint`.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: checkpoint file not found")
    if problem := not_a_torch_file(path):  # not "needs unpickling": trusting random bytes cannot help
        raise CheckpointError(problem)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust_checkpoint:
            raise CheckpointError(
                f"{path}: refused: {refused_code(path, err)} (Python code beyond tensors and containers, which "
                f"can run arbitrary code). Official checkpoints need none; if you trust this file, pass "
                f"--trust-checkpoint (trust_checkpoint=True)."
            ) from err
        log.warning("%s: loading with full unpickling because trust_checkpoint is set", path)
        try:
            content = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as full_err:  # the pickle's own code failed (a missing module, say)
            raise CheckpointError(
                f"{path}: not a readable torch checkpoint even with --trust-checkpoint: "
                f"{type(full_err).__name__}: {full_err}"
            ) from full_err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable torch checkpoint: {err}") from err
    if not isinstance(content, Mapping):
        raise CheckpointError(f"{path}: expected a dict of sub-network state dicts, got {type(content).__name__}")
    return dict(content)


def _listing(label: str, names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED]) + (
        f", ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else ""
    )
    return f"  {len(names)} {label}: {shown}"


def load_subnetworks(path: Path | str, content: Mapping[str, Any], networks: Mapping[str, nn.Module]) -> None:
    """Load each `networks[key]` from `content[key]` with strict names and shapes.

    Every problem is collected first, then one `CheckpointError` names the file and lists missing top-level
    keys and, per sub-network, missing, unexpected and mis-shaped parameters. Keys of `content` not in
    `networks` (optimizers, discriminator, epoch) are training state and are ignored.
    """
    problems: list[str] = []
    missing_top = [key for key in networks if key not in content]
    if missing_top:
        problems.append(f"  missing top-level keys: {', '.join(missing_top)} (present: {', '.join(content)})")
    for key, network in networks.items():
        if key in missing_top:
            continue
        state = content[key]
        if not isinstance(state, Mapping):
            problems.append(f"  '{key}' is a {type(state).__name__}, not a state dict")
            continue
        expected = network.state_dict()
        missing = [name for name in expected if name not in state]
        unexpected = [name for name in state if name not in expected]
        misshaped = [
            f"{name} {tuple(state[name].shape)} != {tuple(expected[name].shape)}"
            for name in expected
            if name in state and tuple(getattr(state[name], "shape", ())) != tuple(expected[name].shape)
        ]
        for label, names in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if names:
                problems.append(f"[{key}]" + _listing(f"{label} parameters", names))
    if problems:
        raise CheckpointError(
            f"{path}: checkpoint does not fit the network built from the config; was it "
            f"trained with another config?\n" + "\n".join(problems)
        )
    for key, network in networks.items():
        network.load_state_dict(content[key], strict=True)


def load_yaml_config(
    name_or_path: str | Path, configs_dir: Path, *, required: str = "model_params"
) -> tuple[Path, dict[str, Any]]:
    """An official YAML config by name (`vox-256` -> `<configs_dir>/vox-256.yaml`) or by path; the
    mapping `required` must be present (MRFA's configs have no `model_params`: it checks `raft_flow`)."""
    candidate = Path(name_or_path)
    path = candidate if candidate.suffix in (".yaml", ".yml") else configs_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in configs_dir.glob("*.yaml")))
        raise ConfigError(path, "", f"config file not found (official names: {known})")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(path, "", f"not valid YAML: {err}") from err
    if not isinstance(config, dict) or not isinstance(config.get(required), dict):
        raise ConfigError(path, required, "missing: not an official model config")
    return path, config
