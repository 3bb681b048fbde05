"""MRFA (NeurIPS 2023) as an `Animator`: official config and checkpoint, batched over driving frames.

Options (CLI `--model-option key=value` or suite): `config` (vox1 default, celebvhq, or a YAML path),
`iterations` (refined pyramid levels 0..6, default 6 = official; the quality/cost knob, see
`reference_models.mrfa.raft.RaftFlow`), `mode` ("reconstruction": absolute driving keypoints, the papers'
protocol and the official `forward(is_train=False)`, with the background predictor when the config has
one; "relative": the official `animate_ddp.py` / `demo.py` relative motion with relative Jacobians and no
background motion), `adapt_scale` (relative mode: scale motion by the convex-hull size ratio; default
from the config's `animate_params.normalization_params`), `autocast` ("bf16" / "fp16" / None),
`max_batch` (driving frames per network call, bounds memory: the correlation volume is 64 MB per frame
at 256x256), `trust_checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from qa_harness.errors import ConfigError
from qa_harness.models.base import Animator
from reference_models.blocks.keypoints import Keypoints
from reference_models.mrfa import checkpoint as mrfa_checkpoint
from reference_models.mrfa.model import MRFA, load_config, relative_keypoints
from reference_models.mrfa.raft import NUM_LEVELS

MODES = ("reconstruction", "relative")
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class _Pair:
    source: Tensor  # (1,3,S,S) on the model's device
    kp_source: Keypoints
    kp_driving_initial: Keypoints | None


def _expand(kp: Keypoints, n: int) -> Keypoints:
    jacobian = None if kp.jacobian is None else kp.jacobian.expand(n, *kp.jacobian.shape[1:])
    return Keypoints(kp.value.expand(n, *kp.value.shape[1:]), jacobian)


class MRFAAnimator(Animator):
    """Animates with an `MRFA` network; frames are resized by the runner to `resolution`."""

    def __init__(self, network: MRFA, *, device: torch.device, iterations: int, mode: str,
                 adapt_scale: bool, autocast: torch.dtype | None, max_batch: int) -> None:
        self.network = network.to(device).eval()
        self.device, self.iterations, self.mode = device, iterations, mode
        self.adapt_scale, self.autocast, self.max_batch = adapt_scale, autocast, max_batch
        self.resolution = network.size
        self.needs_driving_first = mode == "relative"

    def _context(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.autocast or torch.float32,
                              enabled=self.autocast is not None)

    @torch.inference_mode()
    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> _Pair:
        if self.mode == "relative" and driving_first is None:
            raise ValueError("MRFA relative mode needs the driving video's first frame")
        src = source.to(self.device, torch.float32).unsqueeze(0)
        with self._context():
            kp_source = self.network.keypoints(src)
            initial = None
            if self.mode == "relative":
                initial = self.network.keypoints(driving_first.to(self.device, torch.float32).unsqueeze(0))
        return _Pair(src, kp_source, initial)

    @torch.inference_mode()
    def animate(self, state: _Pair, driving: Tensor) -> Tensor:
        frames = driving.to(self.device, torch.float32)
        outputs = [self._animate_batch(state, chunk) for chunk in frames.split(self.max_batch)]
        return torch.cat(outputs).float().clamp(0, 1).to(driving.device)

    def _animate_batch(self, state: _Pair, driving: Tensor) -> Tensor:
        n = driving.shape[0]
        source = state.source.expand(n, -1, -1, -1)
        with self._context():
            if self.mode == "reconstruction":
                return self.network(source, driving, iterations=self.iterations).prediction
            kp_driving = relative_keypoints(state.kp_source, self.network.keypoints(driving),
                                            state.kp_driving_initial, adapt_movement_scale=self.adapt_scale)
            refined = self.network.animate(source, _expand(state.kp_source, n), kp_driving,
                                           iterations=self.iterations)
            return refined.prediction


def _flag(value: bool | str) -> bool:
    """Options arrive as booleans from Python and as strings from the command line."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def build(*, checkpoint: Path | None = None, device: torch.device | None = None, config: str = "vox1",
          iterations: int = NUM_LEVELS, mode: str = "reconstruction", adapt_scale: bool | None = None,
          autocast: str | None = None, max_batch: int = 8, trust_checkpoint: bool = False) -> MRFAAnimator:
    """Factory bound in the catalog as `mrfa`.

    The checkpoint defaults to `$QA_HARNESS_WEIGHTS/mrfa/<config>.pth`."""
    path, content = load_config(config)
    where = "--model-option"
    if mode not in MODES:
        raise ConfigError(path, where, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not 0 <= int(iterations) <= NUM_LEVELS:
        raise ConfigError(path, where, f"iterations must be in 0..{NUM_LEVELS}, got {iterations}")
    if autocast is not None and autocast not in AUTOCAST:
        raise ConfigError(path, where,
                          f"autocast must be one of {', '.join(AUTOCAST)} or None, got {autocast!r}")
    if adapt_scale is None:
        norm = content.get("animate_params", {}).get("normalization_params", {})
        adapt_scale = norm.get("adapt_movement_scale", False)
    weights = mrfa_checkpoint.locate(checkpoint, path.stem)
    network = MRFA.from_config(path)
    mrfa_checkpoint.load(network, weights, trust_checkpoint=_flag(trust_checkpoint))
    return MRFAAnimator(network, device=device or torch.device("cpu"), iterations=int(iterations),
                        mode=mode, adapt_scale=_flag(adapt_scale), autocast=AUTOCAST.get(autocast),
                        max_batch=int(max_batch))
