"""MRFA checkpoints in the official layout (read through `qa_harness.reference_models.checkpoint`).

The official trainer saves `Logger.save_cpk({'model': ddp_model, 'optimizer': optimizer})`
(JialeTao/MRFA 20f935f, `logger.py`, `train.py`): a file `%08d-checkpoint.pth` holding
`{'model': state dict of the DistributedDataParallel-wrapped MRFA, 'optimizer': ..., 'epoch': int}`.
Parameter names therefore start with `module.` (`module.encoder.*`, `module.dense_motion.*`,
`module.bg_predictor.*`, `module.decoder.*`, `module.down.weight`) and include the training-only
`module.vgg.*` / `module.pyramid.*`; `reconstruction.py` and `demo.py` load `checkpoint['model']` into a
DataParallel wrapper. `unpack` strips the wrapper prefix (a file without it is accepted too) and the
loss-only entries; every other name and shape must then match the network built from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.errors import CheckpointError

HOSTING = (
    "Google Drive https://drive.google.com/file/d/1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO "
    "(id 1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO) or BaiduDisk "
    "https://pan.baidu.com/s/1sLbpjztPtdT5bojHVAuK4A (password db3x), linked from the README of "
    "github.com/JialeTao/MRFA; save it as <config name>.pth (vox1.pth, celebvhq.pth)"
)
WRAPPER_PREFIX = "module."
#: Training-only sub-networks of the official MRFA (perceptual-loss VGG19, loss image pyramid).
LOSS_ONLY_PREFIXES = ("vgg.", "pyramid.")


def unpack(path: Path, content: Mapping[str, Any]) -> dict[str, dict[str, Tensor]]:
    """{'model': MRFA parameters} from an official checkpoint: unwrapped, loss-only entries removed."""
    state = content.get("model")
    if not isinstance(state, Mapping):
        keys = ", ".join(map(str, content))
        raise CheckpointError(
            f"{path}: no 'model' state dict (top-level keys: {keys}); not an official MRFA checkpoint"
        )
    wrapped = bool(state) and all(k.startswith(WRAPPER_PREFIX) for k in state)
    unwrapped = {k[len(WRAPPER_PREFIX) :] if wrapped else k: v for k, v in state.items()}
    return {"model": {k: v for k, v in unwrapped.items() if not k.startswith(LOSS_ONLY_PREFIXES)}}


def save_official(network: nn.Module, path: Path, *, epoch: int = 0) -> None:
    """Writes `network` in the official layout ('model' with the `module.` prefix, 'optimizer', 'epoch');
    used to make test checkpoints, since the official weights cannot be downloaded here."""
    state = {WRAPPER_PREFIX + k: v for k, v in network.state_dict().items()}
    optimizer = {"state": {}, "param_groups": [{"lr": 2.0e-4, "betas": (0.5, 0.999), "params": []}]}
    torch.save({"model": state, "optimizer": optimizer, "epoch": epoch}, path)
