"""Reading and writing MRFA checkpoints in the official layout.

The official trainer saves `Logger.save_cpk({'model': ddp_model, 'optimizer': optimizer})`
(JialeTao/MRFA 20f935f, `logger.py`, `train.py`): a file `%08d-checkpoint.pth` holding
`{'model': state dict of the DistributedDataParallel-wrapped MRFA, 'optimizer': ..., 'epoch': int}`.
Parameter names therefore start with `module.` (`module.encoder.*`, `module.dense_motion.*`,
`module.bg_predictor.*`, `module.decoder.*`, `module.down.weight`) and include the training-only
`module.vgg.*` / `module.pyramid.*`; `reconstruction.py` and `demo.py` load `checkpoint['model']` into a
DataParallel wrapper. Here the wrapper prefix is stripped (a file without it is accepted too), the
loss-only entries are skipped, and every other name and shape must match the network built from the
config. Files are read with `weights_only=True`; one that needs unpickling of code is refused unless
trusted. Official weights: README "Pretrained models" (one file for both configs is not stated).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.errors import CheckpointError, WeightsUnavailableError

log = logging.getLogger(__name__)

HOSTING = ("Google Drive https://drive.google.com/file/d/1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO "
           "(id 1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO) or BaiduDisk "
           "https://pan.baidu.com/s/1sLbpjztPtdT5bojHVAuK4A "
           "(password db3x), linked from the README of github.com/JialeTao/MRFA")
WRAPPER_PREFIX = "module."
#: Training-only sub-networks of the official MRFA (perceptual-loss VGG19, loss image pyramid).
LOSS_ONLY_PREFIXES = ("vgg.", "pyramid.")
_MAX_LISTED = 12


def weights_dir() -> Path:
    """`$QA_HARNESS_WEIGHTS`, or `~/.cache/qa_harness/weights`."""
    return Path(os.environ.get("QA_HARNESS_WEIGHTS", Path.home() / ".cache" / "qa_harness" / "weights"))


def locate(explicit: Path | str | None, config_name: str) -> Path:
    """The checkpoint path: `explicit` (must exist), else `$QA_HARNESS_WEIGHTS/mrfa/<config>.pth`."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"{path}: MRFA checkpoint file not found (official weights: {HOSTING})")
        return path
    path = weights_dir() / "mrfa" / f"{config_name}.pth"
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{path}: MRFA checkpoint not found. Download the official weights from {HOSTING}, save the "
            f"file for config '{config_name}' as {path} (folder from $QA_HARNESS_WEIGHTS, default "
            f"~/.cache/qa_harness/weights), or pass --checkpoint PATH.")
    return path


def read(path: Path, *, trust_checkpoint: bool = False) -> Mapping[str, Any]:
    """The top-level dict of a checkpoint, on CPU, `weights_only=True` unless explicitly trusted."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust_checkpoint:
            raise CheckpointError(
                f"{path}: refused: the file needs unpickling of Python objects beyond tensors and "
                f"containers, "
                f"which can run arbitrary code ({str(err).splitlines()[0]}). Official MRFA checkpoints do "
                f"not; if you trust this file, pass --trust-checkpoint.") from err
        log.warning("%s: loading with full unpickling because trust_checkpoint is set", path)
        content = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable torch checkpoint: {err}") from err
    if not isinstance(content, Mapping):
        raise CheckpointError(f"{path}: expected the official dict {{'model', 'optimizer', 'epoch'}}, "
                              f"got {type(content).__name__}")
    return content


def model_state(path: Path, content: Mapping[str, Any]) -> dict[str, Tensor]:
    """The MRFA parameters of an official checkpoint: `model`, unwrapped, loss-only entries removed."""
    state = content.get("model")
    if not isinstance(state, Mapping):
        keys = ", ".join(map(str, content))
        raise CheckpointError(f"{path}: no 'model' state dict (top-level keys: {keys}); "
                              f"not an official MRFA checkpoint")
    wrapped = bool(state) and all(k.startswith(WRAPPER_PREFIX) for k in state)
    unwrapped = {k[len(WRAPPER_PREFIX):] if wrapped else k: v for k, v in state.items()}
    return {k: v for k, v in unwrapped.items() if not k.startswith(LOSS_ONLY_PREFIXES)}


def _listing(label: str, names: list[str]) -> str:
    more = f", ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else ""
    return f"  {len(names)} {label}: {', '.join(names[:_MAX_LISTED])}{more}"


def load_state(network: nn.Module, state: Mapping[str, Tensor], path: Path) -> None:
    """Strict load; on mismatch one error naming the file and listing missing/unexpected/mis-shaped names."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                 if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape)]
    problems = [_listing(label, names) for label, names in
                (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)) if names]
    if problems:
        raise CheckpointError(f"{path}: checkpoint does not fit the MRFA built from the config (was it "
                              f"trained with another config or prior_model?)\n" + "\n".join(problems))
    network.load_state_dict(state, strict=True)


def load(network: nn.Module, path: Path, *, trust_checkpoint: bool = False) -> None:
    """Loads an official MRFA checkpoint file into `network` (an `MRFA`)."""
    load_state(network, model_state(path, read(path, trust_checkpoint=trust_checkpoint)), path)


def save_official(network: nn.Module, path: Path, *, epoch: int = 0) -> None:
    """Writes `network` in the official layout ('model' with the `module.` prefix, 'optimizer', 'epoch');
    used to make test checkpoints, since the official weights cannot be downloaded here."""
    state = {WRAPPER_PREFIX + k: v for k, v in network.state_dict().items()}
    optimizer = {"state": {}, "param_groups": [{"lr": 2.0e-4, "betas": (0.5, 0.999), "params": []}]}
    torch.save({"model": state, "optimizer": optimizer, "epoch": epoch}, path)
