"""What the FOMM, TPSMM and MRAA adapters share: building the official network, the absolute
(reconstruction) and relative animation modes, batching, autocast and device handling.

A subclass says how to detect keypoints and how to render a batch; everything else is here, once.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from qa_harness.errors import ConfigError, QaHarnessError
from qa_harness.models.base import Animator, resolve_device
from qa_harness.reference_models.blocks.keypoints import Keypoints, movement_scale, relative_keypoints
from qa_harness.reference_models.spec import ReferenceSpec, load_reference

_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class SourceState:
    """Per-pair state: the source on the model's device, its keypoints, the generator encoder's (1,C,h,w)
    source features per level (they do not depend on the driving frames: computed once per pair, not per
    batch as the official loops do per frame), and for relative mode the driving's first-frame keypoints
    and the movement scale."""

    source: Tensor
    kp_source: Keypoints
    levels: tuple[Tensor, ...] = ()
    kp_initial: Keypoints | None = None
    scale: float = 1.0


def config_resolution(config_path: Path, config: dict) -> int:
    """Frame side of a config: `dataset_params.frame_shape[0]`, else the trailing number of its name."""
    shape = (config.get("dataset_params") or {}).get("frame_shape")
    if shape:
        return int(shape[0])
    match = re.search(r"(\d+)$", config_path.stem)
    return int(match.group(1)) if match else 256


def config_adapt_movement_scale(config: dict, path: Path | str = "config") -> bool:
    """Relative mode's default `adapt_movement_scale`: the config's
    `animate_params.normalization_params.adapt_movement_scale` (False in every official FOMM and MRFA config,
    read by FOMM's `animate.py`), else True (TPSMM's and MRAA's relative motion always adapts the scale).

    MRFA's `animate_ddp.py` reads `animate_params.adapt_movement_scale` instead, where no shipped config has
    it (the official script stops with a KeyError): a config with the key there is honoured as well, and one
    that sets the two places differently is refused (`path` names it)."""
    animate = config.get("animate_params") or {}
    places = {
        "animate_params.normalization_params": animate.get("normalization_params") or {},
        "animate_params": animate,
    }
    values = {
        where: bool(section["adapt_movement_scale"])
        for where, section in places.items()
        if "adapt_movement_scale" in section
    }
    if len(set(values.values())) > 1:
        raise ConfigError(path, "adapt_movement_scale", f"set differently in {' and '.join(values)}: {values}")
    return next(iter(values.values()), True)


def check_relative_flags(config: dict, path: Path | str = "config") -> None:
    """Relative mode moves keypoints relatively, and Jacobians too where the prior has them, as the official
    `demo.py` does and every shipped config asks (`use_relative_movement` / `use_relative_jacobian` true); a
    config that turns either off is refused rather than silently not honoured."""
    normalization = ((config.get("animate_params") or {}).get("normalization_params")) or {}
    off = [key for key in ("use_relative_movement", "use_relative_jacobian") if normalization.get(key, True) is False]
    if off:
        raise ConfigError(
            path,
            f"animate_params.normalization_params.{off[0]}",
            "false is not supported: relative mode always uses relative movement and Jacobians "
            "(the official demo.py); use absolute mode (relative=false) instead",
        )


class ReferenceAnimator(Animator):
    """Animator over an official-layout network.

    Absolute mode (default) = the papers' reconstruction protocol: driving keypoints used as they are.
    Relative mode = official `animate.py`/demo `relative`: the driving's keypoint displacement from its first
    frame (times the convex-hull movement scale when `adapt_movement_scale`) moves the source keypoints;
    `adapt_movement_scale` defaults to what the config says (`config_adapt_movement_scale`).
    All driving frames of a call go through the network as one batch, under `torch.inference_mode` and,
    when `autocast` is 'bf16' or 'fp16', under `torch.autocast` on the model's device.
    """

    def __init__(
        self,
        spec: ReferenceSpec,
        *,
        checkpoint: Path | None,
        device: torch.device,
        config: str | Path | None = None,
        relative: bool = False,
        adapt_movement_scale: bool | None = None,
        autocast: str | None = None,
        trust_checkpoint: bool = False,
    ) -> None:
        if autocast not in (None, "none", *_AUTOCAST):
            raise ConfigError(spec.name, "autocast", f"unknown value {autocast!r}; expected bf16, fp16 or none")
        config_path, content = spec.load_config(config)
        self.network: nn.Module = load_reference(
            spec, config=config_path, checkpoint=checkpoint, trust_checkpoint=trust_checkpoint
        ).to(device)
        self.device, self.name = torch.device(device), spec.name
        self.resolution = config_resolution(config_path, content)
        self.relative = relative
        self.adapt_movement_scale = (
            config_adapt_movement_scale(content, config_path) if adapt_movement_scale is None else adapt_movement_scale
        )
        if relative:
            check_relative_flags(content, config_path)
        self.needs_driving_first = relative
        self.autocast = _AUTOCAST.get(autocast or "none")

    def _context(self):
        if self.autocast is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast)

    @abstractmethod
    def detect(self, frames: Tensor) -> Keypoints:
        """Keypoints (or region parameters) of a batch of frames (N,3,H,W)."""

    @abstractmethod
    def source_encoder(self) -> nn.Module:
        """The generator whose `encode(source)` gives the source feature levels `render` warps."""

    @abstractmethod
    def render(self, state: SourceState, kp_driving: Keypoints, driving: Tensor) -> Tensor:
        """(N,3,H,W) frames for the driving keypoints (already made relative if that mode is on)."""

    @staticmethod
    def source_levels(state: SourceState, n: int) -> list[Tensor]:
        """The source features encoded once in `prepare`, viewed `n` times: the generator's encoder need not
        run on n identical copies of the source, nor again for every batch (same values)."""
        return [level.expand(n, *level.shape[1:]) for level in state.levels]

    def relative_motion(self, state: SourceState, kp_driving: Keypoints) -> Keypoints:
        return relative_keypoints(state.kp_source, kp_driving, state.kp_initial, state.scale)

    def _check(self, frames: Tensor, what: str) -> Tensor:
        """Frames on the model's device as float32. Any square side works (the networks are convolutional;
        the runner warns when the suite's side differs from the config's)."""
        if frames.dim() not in (3, 4) or frames.shape[-3] != 3 or frames.shape[-1] != frames.shape[-2]:
            raise QaHarnessError(
                f"{self.name}: {what} must be square RGB frames (...,3,H,H), got shape {tuple(frames.shape)}"
            )
        return frames.to(self.device, torch.float32)

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> SourceState:
        source = self._check(source, "source").unsqueeze(0)
        with torch.inference_mode(), self._context():
            kp_source = self.detect(source)
            levels = tuple(self.source_encoder().encode(source))
            if not self.relative:
                return SourceState(source, kp_source, levels)
            if driving_first is None:
                raise QaHarnessError(f"{self.name}: relative mode needs the driving's first frame in prepare()")
            kp_initial = self.detect(self._check(driving_first, "driving_first").unsqueeze(0))
        scale = movement_scale(kp_source, kp_initial) if self.adapt_movement_scale else 1.0
        return SourceState(source, kp_source, levels, kp_initial, scale)

    def animate(self, state: SourceState, driving: Tensor) -> Tensor:
        frames = self._check(driving, "driving")
        with torch.inference_mode(), self._context():
            kp_driving = self.detect(frames)
            if self.relative:
                kp_driving = self.relative_motion(state, kp_driving)
            out = self.render(state, kp_driving, frames)
        return out.to(driving.device, torch.float32)


#: Options every reference-model factory accepts (CLI: `-o KEY=VALUE`).
OPTIONS = ("config", "relative", "adapt_movement_scale", "autocast", "trust_checkpoint")


def build_animator(
    cls: type[ReferenceAnimator],
    spec: ReferenceSpec,
    *,
    checkpoint: Path | None,
    device: torch.device | str,
    options: dict[str, Any],
    extra_options: tuple[str, ...] = (),
) -> ReferenceAnimator:
    """The shared factory body: validates option names (OPTIONS plus the model's `extra_options`), resolves
    'auto' devices, builds and loads."""
    known = OPTIONS + extra_options
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(
            f"model {spec.name}", "options", f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    device = resolve_device(device) if isinstance(device, str) else device
    return cls(spec, checkpoint=checkpoint, device=device, **options)
