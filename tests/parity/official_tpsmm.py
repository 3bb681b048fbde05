"""TPSMM plug-in for `make_fixtures.py`: builds the official Thin-Plate-Spline-Motion-Model modules.

Reference calls, as in the official `run.py`/`demo.py`/`reconstruction.py`: `KPDetector(**common_params)`,
`DenseMotionNetwork(**common_params, **dense_motion_params)`, `InpaintingNetwork(**generator_params,
**common_params)`, `BGMotionPredictor()`, `AVDNetwork(num_tps, **avd_network_params)`. Reconstruction =
absolute points with `bg_param = bg_predictor(source, driving)`; relative = `demo.make_animation(...,
mode='relative')` itself (per frame, convex-hull movement scale, no background motion).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

MODEL = "tpsmm"
OFFICIAL_CONFIG = "config/vox-256.yaml"
FULL_SIZE, TINY_SIZE = 256, 64
#: Sub-networks whose size hardly depends on the config (resnet18s, 11 M parameters; AVD MLP 1-2 M): the tiny
#: fixture stores only their names; both sides fill them with the same name-seeded weights.
SEEDED_ONLY = ("kp_detector", "bg_predictor", "avd_network")


def build(repo, model_params: dict) -> dict[str, nn.Module]:
    common = model_params["common_params"]
    nets = {
        "inpainting_network": repo.load("modules.inpainting_network").InpaintingNetwork(
            **model_params["generator_params"], **common
        ),
        "kp_detector": repo.load("modules.keypoint_detector").KPDetector(**common),
        "dense_motion_network": repo.load("modules.dense_motion").DenseMotionNetwork(
            **common, **model_params["dense_motion_params"]
        ),
        "avd_network": repo.load("modules.avd_network").AVDNetwork(
            num_tps=common["num_tps"], **model_params["avd_network_params"]
        ),
    }
    if common["bg"]:
        nets["bg_predictor"] = repo.load("modules.bg_motion_predictor").BGMotionPredictor()
    return nets


def run(repo, nets: dict[str, nn.Module], frames: Tensor) -> dict[str, Tensor]:
    """frames[0] is the source, frames[1:] the driving frames."""
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    sources = source.expand(n, -1, -1, -1)
    kp_source, kp_driving = nets["kp_detector"](source), nets["kp_detector"](driving)
    kp_sources = {"fg_kp": kp_source["fg_kp"].expand(n, -1, -1)}
    bg_param = nets["bg_predictor"](sources, driving) if "bg_predictor" in nets else None
    motion = nets["dense_motion_network"](
        source_image=sources,
        kp_driving=kp_driving,
        kp_source=kp_sources,
        bg_param=bg_param,
        dropout_flag=False,
    )
    generated = nets["inpainting_network"](sources, motion)
    out = {
        "kp_source": kp_source["fg_kp"],
        "kp_driving": kp_driving["fg_kp"],
        "deformation": motion["deformation"],
    }
    if bg_param is not None:
        out["bg_param"] = bg_param
    out |= {k: generated[k] for k in ("contribution_maps", "deformed_source", "deformed", "prediction")}
    out |= {f"occlusion_map.{i}": m for i, m in enumerate(generated["occlusion_map"])}
    out["avd"] = nets["avd_network"](kp_sources, kp_driving)["fg_kp"]
    if n < 2:  # full-size fixtures record the absolute mode only
        return out
    predictions = repo.load("demo").make_animation(
        source[0].permute(1, 2, 0).numpy(),
        [f.permute(1, 2, 0).numpy() for f in driving],
        nets["inpainting_network"],
        nets["kp_detector"],
        nets["dense_motion_network"],
        nets["avd_network"],
        device="cpu",
        mode="relative",
    )
    out["relative.prediction"] = torch.from_numpy(np.stack(predictions)).permute(0, 3, 1, 2)
    return out


def reconstruction(nets: dict[str, nn.Module], source: Tensor) -> Callable[[Tensor], Tensor]:
    """The official `reconstruction.py` loop for one video: `kp_detector(source)` once, then per driving frame
    `kp_detector`, `bg_predictor(source, driving)` (when the config has one), `dense_motion_network(...,
    dropout_flag=False)`, `inpainting_network(source, dense_motion)`; (N,3,H,W) driving -> predictions."""
    kp_source = nets["kp_detector"](source)
    bg_predictor = nets.get("bg_predictor")

    def one(driving: Tensor) -> Tensor:
        kp_driving = nets["kp_detector"](driving)
        bg_params = bg_predictor(source, driving) if bg_predictor else None
        dense_motion = nets["dense_motion_network"](
            source_image=source, kp_driving=kp_driving, kp_source=kp_source, bg_param=bg_params, dropout_flag=False
        )
        return nets["inpainting_network"](source, dense_motion)["prediction"]

    return lambda driving: torch.cat([one(frame) for frame in driving.split(1)])
