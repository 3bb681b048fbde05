"""MRAA plug-in for `make_fixtures.py`: builds the official articulated-animation modules and runs them.

Reference calls, as in the official `run.py`:
`Generator(num_regions, num_channels, revert_axis_swap, **generator_params)`,
`RegionPredictor(num_regions, num_channels, estimate_affine, **region_predictor_params)`,
`BGMotionPredictor(num_channels, **bg_predictor_params)`, `AVDNetwork(num_regions, **avd_network_params)`.
Reconstruction = absolute regions with `bg_params = bg_predictor(source, driving)` (`reconstruction.py`);
relative = `demo.make_animation(..., animation_mode='relative', cpu=True)` itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

MODEL = "mraa"
OFFICIAL_CONFIG = "config/vox256.yaml"
FULL_SIZE, TINY_SIZE = 256, 64
#: The AVD MLP's hidden sizes are fixed (1-2 M parameters): the tiny fixture stores only its names; both
#: sides fill it with the same name-seeded weights.
SEEDED_ONLY = ("avd_network",)
_REGION_KEYS = ("shift", "covar", "affine", "heatmap", "u", "d")


def build(repo, model_params: dict) -> dict[str, nn.Module]:
    m = model_params
    return {
        "generator": repo.load("modules.generator").Generator(
            num_regions=m["num_regions"],
            num_channels=m["num_channels"],
            revert_axis_swap=m["revert_axis_swap"],
            **m["generator_params"],
        ),
        "region_predictor": repo.load("modules.region_predictor").RegionPredictor(
            num_regions=m["num_regions"],
            num_channels=m["num_channels"],
            estimate_affine=m["estimate_affine"],
            **m["region_predictor_params"],
        ),
        "bg_predictor": repo.load("modules.bg_motion_predictor").BGMotionPredictor(
            num_channels=m["num_channels"], **m["bg_predictor_params"]
        ),
        "avd_network": repo.load("modules.avd_network").AVDNetwork(
            num_regions=m["num_regions"], **m["avd_network_params"]
        ),
    }


def run(repo, nets: dict[str, nn.Module], frames: Tensor) -> dict[str, Tensor]:
    """frames[0] is the source, frames[1:] the driving frames."""
    source, driving = frames[:1], frames[1:]
    n = driving.shape[0]
    sources = source.expand(n, -1, -1, -1)
    regions_source, regions_driving = nets["region_predictor"](source), nets["region_predictor"](driving)
    expanded = {k: regions_source[k].expand(n, *regions_source[k].shape[1:]) for k in ("shift", "covar", "affine")}
    bg_params = nets["bg_predictor"](sources, driving)
    generated = nets["generator"](
        sources, source_region_params=expanded, driving_region_params=regions_driving, bg_params=bg_params
    )
    flow = nets["generator"].pixelwise_flow_predictor(
        source_image=sources,
        driving_region_params=regions_driving,
        source_region_params=expanded,
        bg_params=bg_params,
    )
    out = {f"source.{k}": regions_source[k] for k in _REGION_KEYS}
    out |= {f"driving.{k}": regions_driving[k] for k in _REGION_KEYS}
    out |= {"bg_params": bg_params, "optical_flow": flow["optical_flow"]}
    out |= {k: generated[k] for k in ("deformed", "occlusion_map", "prediction")}
    avd = nets["avd_network"](expanded, regions_driving)
    out |= {f"avd.{k}": avd[k] for k in ("shift", "affine", "covar")}
    if n < 2:  # full-size fixtures record the absolute mode only
        return out
    predictions = repo.load("demo").make_animation(
        source[0].permute(1, 2, 0).numpy(),
        [f.permute(1, 2, 0).numpy() for f in driving],
        nets["generator"],
        nets["region_predictor"],
        nets["avd_network"],
        animation_mode="relative",
        cpu=True,
    )
    out["relative.prediction"] = torch.from_numpy(np.stack(predictions)).permute(0, 3, 1, 2)
    return out


def reconstruction(nets: dict[str, nn.Module], source: Tensor) -> Callable[[Tensor], Tensor]:
    """The official `reconstruction.py` loop for one video: `region_predictor(source)` once, then per driving
    frame `region_predictor`, `bg_predictor(source, driving)` and `generator(source, source_region_params=...,
    driving_region_params=..., bg_params=...)`; (N,3,H,W) driving -> predictions."""
    regions_source = nets["region_predictor"](source)

    def one(driving: Tensor) -> Tensor:
        return nets["generator"](
            source,
            source_region_params=regions_source,
            driving_region_params=nets["region_predictor"](driving),
            bg_params=nets["bg_predictor"](source, driving),
        )["prediction"]

    return lambda driving: torch.cat([one(frame) for frame in driving.split(1)])
