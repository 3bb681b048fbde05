"""FOMM plug-in for `make_fixtures.py`: builds the official first-order-model modules and runs them.

Reference calls, as in the official `demo.py`: `OcclusionAwareGenerator(**generator_params, **common_params)`,
`KPDetector(**kp_detector_params, **common_params)`; reconstruction = `generator(source, kp_driving=...,
kp_source=...)` with absolute keypoints; relative = `animate.normalize_kp(..., use_relative_movement=True,
use_relative_jacobian=True, adapt_movement_scale=True)` one driving frame at a time (the demo's loop).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

MODEL = "fomm"
OFFICIAL_CONFIG = "config/vox-256.yaml"
FULL_SIZE, TINY_SIZE = 256, 64


def build(repo, model_params: dict) -> dict[str, nn.Module]:
    common = model_params["common_params"]
    generator = repo.load("modules.generator").OcclusionAwareGenerator(**model_params["generator_params"], **common)
    kp_detector = repo.load("modules.keypoint_detector").KPDetector(**model_params["kp_detector_params"], **common)
    return {"generator": generator, "kp_detector": kp_detector}


def _expand(kp: dict[str, Tensor], n: int) -> dict[str, Tensor]:
    return {k: v.expand(n, *v.shape[1:]) for k, v in kp.items()}


def run(repo, nets: dict[str, nn.Module], frames: Tensor) -> dict[str, Tensor]:
    """frames[0] is the source, frames[1:] the driving frames."""
    generator, kp_detector = nets["generator"], nets["kp_detector"]
    normalize_kp = repo.load("animate").normalize_kp
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    kp_source, kp_driving = kp_detector(source), kp_detector(driving)
    sources = source.expand(n, -1, -1, -1)
    generated = generator(sources, kp_driving=kp_driving, kp_source=_expand(kp_source, n))
    motion = generator.dense_motion_network(sources, kp_driving=kp_driving, kp_source=_expand(kp_source, n))
    out = {f"kp_source.{k}": v for k, v in kp_source.items()}
    out |= {f"kp_driving.{k}": v for k, v in kp_driving.items()}
    out |= {k: generated[k] for k in ("mask", "sparse_deformed", "occlusion_map", "deformed", "prediction")}
    out["deformation"] = motion["deformation"]
    if n < 2:  # full-size fixtures record the absolute mode only
        return out
    kp_initial = kp_detector(driving[:1])
    relative = []
    for i in range(n):
        kp_norm = normalize_kp(
            kp_source=kp_source,
            kp_driving=kp_detector(driving[i : i + 1]),
            kp_driving_initial=kp_initial,
            use_relative_movement=True,
            use_relative_jacobian=True,
            adapt_movement_scale=True,
        )
        relative.append((kp_norm, generator(source, kp_driving=kp_norm, kp_source=kp_source)["prediction"]))
    out["relative.value"] = torch.cat([kp["value"] for kp, _ in relative])
    out["relative.jacobian"] = torch.cat([kp["jacobian"] for kp, _ in relative])
    out["relative.prediction"] = torch.cat([pred for _, pred in relative])
    return out


def reconstruction(nets: dict[str, nn.Module], source: Tensor) -> Callable[[Tensor], Tensor]:
    """The official `reconstruction.py` loop for one video: `kp_detector(source)` once, then per driving frame
    `kp_detector(driving)` and `generator(source, kp_source=..., kp_driving=...)`; the returned function maps
    (N,3,H,W) driving frames to the (N,3,H,W) predictions (call it under `torch.no_grad`, as the official does)."""
    generator, kp_detector = nets["generator"], nets["kp_detector"]
    kp_source = kp_detector(source)

    def frames(driving: Tensor) -> Tensor:
        out = []
        for frame in driving.split(1):
            out.append(generator(source, kp_source=kp_source, kp_driving=kp_detector(frame))["prediction"])
        return torch.cat(out)

    return frames
