"""Records parity fixtures from the official MRFA code (JialeTao/MRFA at 20f935f) on CPU.

Usage (a checkout of the official repository at the pinned commit, and einops 0.3 importable, e.g.
`pip install --target DIR einops==0.3.2` and `PYTHONPATH=DIR`):

    python -m tests.parity.official_mrfa --repo /path/to/MRFA --out tests/parity/fixtures

The official code needs CUDA, timm 0.4 and torchvision; none of that is usable here, so `load_official`
runs it under shims installed in this process only: `Module.cuda` is a no-op, `timm.models.layers.
weight_init.trunc_normal_` is torch's `trunc_normal_` (the same algorithm), torchvision's package
`__init__` (whose compiled ops need CUDA) is bypassed by a bare module over the installed package folder,
and VGG19 (perceptual loss only) is built without downloading ImageNet weights.

Weights come from `tests.parity.common.seed_weights` (name-keyed deterministic values): the official
refinement and generator widths are hard-coded (even a "tiny" MRFA has ~40 M parameters), so the fixtures
record names, shapes and per-tensor checksums instead of state dicts, and the tests refill our network
from the same names. Frames are real (`common.clip_frames`, stored as uint8); outputs of one forward
with `is_train=False` are stored, maps wider than 64 centre-cropped, warped features as channel means.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import yaml

from tests.parity.common import SEED, clip_frames, seed_weights
from tests.parity.official import install_torchvision_bypass

PINNED_COMMIT = "20f935f2ee63c0e9b55c38a283bdd5b4dbf7415f"
#: Sub-networks used only by the training losses (dropped from the fixtures and from our model).
LOSS_ONLY_PREFIXES = ("vgg.", "pyramid.")


def checksums(state: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Per-tensor sum of absolute values (float64): a cheap fingerprint of a state dict."""
    return {k: float(v.double().abs().sum()) for k, v in state.items()}


def _install_shims() -> None:
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    timm = types.ModuleType("timm")
    for name in ("timm.models", "timm.models.layers"):
        sys.modules[name] = types.ModuleType(name)
    weight_init = types.ModuleType("timm.models.layers.weight_init")
    weight_init.trunc_normal_ = torch.nn.init.trunc_normal_
    sys.modules.update({"timm": timm, "timm.models.layers.weight_init": weight_init})
    install_torchvision_bypass()
    from torchvision import models

    vgg19 = models.vgg19
    models.vgg19 = lambda pretrained=False, **kwargs: vgg19(weights=None)


def load_official(repo: Path) -> types.ModuleType:
    """Imports the official `modules.model` from `repo` (shims installed first)."""
    if not (repo / "modules" / "model.py").is_file():
        raise SystemExit(f"{repo}: not a checkout of JialeTao/MRFA (modules/model.py missing)")
    _install_shims()
    sys.path.insert(0, str(repo))
    import modules.model as official_model

    return official_model


def build_official(
    official_model: types.ModuleType, config: dict, gains: dict[str, float] | None = None
) -> torch.nn.Module:
    """The official MRFA built from a config dict (converted as run.py does), in eval mode, seeded weights."""
    from modules.util import convert_dict_to_attrit_dict

    torch.manual_seed(0)
    model = official_model.MRFA(convert_dict_to_attrit_dict(copy.deepcopy(config))).eval()
    return seed_weights(model, gains=gains)


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict without the loss-only sub-networks."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(LOSS_ONLY_PREFIXES)}


def tiny_config(vox1: dict) -> dict:
    """vox1.yaml with small channels, 64x64 frames and a 2-layer transformer (same keys).

    The refinement and generator widths are hard-coded in the official RaftFlow, so `raft_flow.generator`
    keeps the vox1 widths; only `size`, `dim` and the structure encoders shrink.
    """
    cfg = copy.deepcopy(vox1)
    cfg["dense_motion"].update(block_expansion=8, max_features=64, num_blocks=3)
    cfg["fomm_kp_detector"].update(block_expansion=8, max_features=64, num_blocks=3)
    cfg["tpsm_dense_motion"].update(block_expansion=8, max_features=64, num_blocks=3)
    raft = cfg["raft_flow"]
    raft.update(dim=32, size=64)
    raft["driving_encoder"].update(block_expansion=8, max_features=64, num_blocks=3)
    raft["source_encoder"].update(block_expansion=8, max_features=64, num_blocks=3)
    m = cfg["mtia_kp_detector"]["MODEL"]
    m.update(
        TRANSFORMER_DEPTH=2, TRANSFORMER_HEADS=4, DIM=32, IMAGE_SIZE=[64, 64], HEATMAP_SIZE=[16, 16], BASE_CHANNEL=8
    )
    m["EXTRA"]["STAGE2"]["NUM_CHANNELS"] = [8, 16]
    m["EXTRA"]["STAGE2"]["NUM_BLOCKS"] = [1, 1]
    m["EXTRA"]["STAGE3"].update(NUM_MODULES=2, NUM_BLOCKS=[1, 1, 1], NUM_CHANNELS=[8, 16, 32])
    return cfg


def center_crop(x: torch.Tensor, side: int) -> torch.Tensor:
    """The central side x side window of (..., H, W) maps (unchanged when not larger)."""
    h, w = x.shape[-2:]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return x[..., top : top + side, left : left + side].clone()


def record_forward(model: torch.nn.Module, source: torch.Tensor, driving: torch.Tensor, max_side: int) -> dict:
    """One official forward (is_train=False) and the intermediate results it exposes, kept small:
    maps wider than `max_side` are centre-cropped, warped features reduced to their channel means."""
    captured: dict[str, object] = {}
    dense_motion = model.dense_motion.forward

    def dense_motion_spy(*args, **kwargs):
        out = dense_motion(*args, **kwargs)
        occlusion = out["occlusion"]
        captured["deformation"] = out["deformation"]
        captured["prior_occlusion"] = occlusion[0] if isinstance(occlusion, list) else occlusion
        return out

    flows: list[torch.Tensor] = []
    spied = [model.decoder.corr_enc, model.decoder.refine] if hasattr(model.decoder, "corr_enc") else []

    def corr_enc_spy(flow, corr):
        flows.append(flow)
        return type(spied[0]).forward(spied[0], flow, corr)

    def refine_spy(motion, context):
        out = type(spied[1]).forward(spied[1], motion, context)
        flows[-1] = flows[-1] + out[0][:, :2]  # the level's refined flow, `flow_w` of RaftFlow.forward
        return out

    decode = model.decoder.generator.decode

    def decode_spy(warp_f, warp_img, occlusion, warp_f_c=None, occlusion_c=None):
        captured["warped_feature_means"] = [center_crop(f.mean(1, keepdim=True), max_side) for f in warp_f]
        captured["occlusions"] = [center_crop(o, max_side) for o in occlusion]
        captured["warped_image"] = center_crop(warp_img, max_side)
        return decode(warp_f, warp_img, occlusion, warp_f_c, occlusion_c)

    model.dense_motion.forward = dense_motion_spy
    model.decoder.generator.decode = decode_spy
    if spied:
        model.decoder.corr_enc.forward, model.decoder.refine.forward = corr_enc_spy, refine_spy
    with torch.no_grad():
        kp_s, kp_d = model.encoder(source), model.encoder(driving)
        prediction = model({"source": source, "driving": driving}, is_train=False)[0]
    del model.dense_motion.forward, model.decoder.generator.decode
    for module in spied:
        del module.forward
    return {
        "kp_source": kp_s["kp"],
        "jacobian_source": kp_s.get("jacobian"),
        "kp_driving": kp_d["kp"],
        "jacobian_driving": kp_d.get("jacobian"),
        "prediction": center_crop(prediction, max_side),
        "deformation": captured["deformation"].clone(),
        "prior_occlusion": captured["prior_occlusion"].clone(),
        "occlusions": captured["occlusions"],
        "warped_image": captured["warped_image"],
        "flows": [center_crop(f, max_side) for f in flows],
        "warped_feature_means": captured["warped_feature_means"],
    }


#: Tiny fixtures: name -> (prior_model, config changes beyond `tiny_config`, batch size, weight gains).
#: One batched variant checks batching; the others use one sample to keep the committed files small.
#: `mtia_moving` scales MTIA's attention 8x (`common.seed_weights` gains) so that keypoints move 0.14-0.36
#: (in [-1, 1] units, measured) with the input, as with trained weights: the regime where an attention
#: formulation other than the official one drifted 2-3e-4 (plain seeded keypoints move ~0.01).
TINY_VARIANTS = {
    "mtia": ("mtia", {}, 2, None),
    "mtia_moving": ("mtia", {}, 2, {"to_qkv": 8.0}),
    "fomm": ("fomm", {}, 1, None),
    "tpsm": ("tpsm", {}, 1, None),
    "mtia_bg": ("mtia", {"train_params": {"bg_start": 0}}, 1, None),
    "mtia_prior_only": ("mtia", {"raft_flow": {"prior_only": True}}, 1, None),
}
#: Variants whose keypoints must move with the input: the largest keypoint displacement between the source
#: and each driving frame is at least this ([-1, 1] units).
MOVING = {"mtia_moving": 0.1}


def check_regime(name: str, outputs: dict, min_motion: float | None) -> None:
    """Fails the fixture maker when a record would not exercise what it is for: keypoints that do not follow
    the input (for `MOVING` variants) or a saturated prediction (std < 0.05, or over 5 % of values at 0/1)."""
    prediction = outputs["prediction"]
    saturated = ((prediction <= 0) | (prediction >= 1)).float().mean().item()
    if prediction.std().item() < 0.05 or saturated > 0.05:
        raise SystemExit(f"{name}: prediction saturated (std {prediction.std():.3f}, {saturated:.1%} at 0/1)")
    if min_motion is not None:
        motion = (outputs["kp_driving"] - outputs["kp_source"]).norm(dim=-1).amax(-1)
        if motion.min().item() < min_motion:
            raise SystemExit(f"{name}: keypoints move only {motion.tolist()} (< {min_motion}) with the input")


def frames(size: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source (B,3,size,size) and driving frames of the real fixture clip as uint8 (exact: the clip frames
    are 8-bit); sources repeat frame 0, drivings are later frames."""
    video = (clip_frames(size) * 255).round().to(torch.uint8)
    return video[:1].expand(batch, -1, -1, -1).clone(), video[1 : 1 + batch].clone()


def _variant(base: dict, prior: str, changes: dict) -> dict:
    cfg = copy.deepcopy(base)
    cfg["train_params"]["prior_model"] = prior
    for section, values in changes.items():
        cfg[section].update(values)
    return cfg


def _record(official_model, cfg: dict, source, driving, max_side: int, gains: dict | None = None) -> dict:
    """Fixture record; `source`/`driving` uint8 frames (the network sees them / 255)."""
    model = build_official(official_model, cfg, gains)
    state = model_state(model)
    outputs = record_forward(model, source.float() / 255, driving.float() / 255, max_side)
    return {
        "commit": PINNED_COMMIT,
        "config": cfg,
        "seed": SEED,
        "gains": gains,
        "source": source,
        "driving": driving,
        "shapes": {k: list(v.shape) for k, v in state.items()},
        "checksums": checksums(state),
        "outputs": outputs,
    }


def make(repo: Path, out: Path) -> None:
    """Writes into `out`: mrfa_names.json (official parameter names/shapes of vox1.yaml for each prior and
    of celebvhq.yaml), mrfa_vox1_forward.pt (one seeded 256x256 forward, compact) and
    mrfa_tiny_<variant>.pt."""
    official_model = load_official(repo)
    configs = {name: yaml.safe_load((repo / "config" / f"{name}.yaml").read_text()) for name in ("vox1", "celebvhq")}
    out.mkdir(parents=True, exist_ok=True)
    names = {}
    variants = {
        "vox1_mtia": ("vox1", "mtia"),
        "vox1_fomm": ("vox1", "fomm"),
        "vox1_tpsm": ("vox1", "tpsm"),
        "celebvhq_mtia": ("celebvhq", "mtia"),
    }
    for label, (config, prior) in variants.items():
        state = official_model.MRFA(_attr(_variant(configs[config], prior, {}))).state_dict()
        names[label] = {k: list(v.shape) for k, v in state.items()}
    (out / "mrfa_names.json").write_text(json.dumps({"commit": PINNED_COMMIT, "state": names}, indent=0))
    record = _record(official_model, configs["vox1"], *frames(256, 1), 64)
    check_regime("vox1_forward", record["outputs"], None)
    torch.save(record, out / "mrfa_vox1_forward.pt")
    tiny = tiny_config(configs["vox1"])
    for name, (prior, changes, batch, gains) in TINY_VARIANTS.items():
        source, driving = frames(64, batch)
        record = _record(official_model, _variant(tiny, prior, changes), source, driving, 64, gains)
        check_regime(name, record["outputs"], MOVING.get(name))
        torch.save(record, out / f"mrfa_tiny_{name}.pt")


def _attr(cfg: dict):
    from modules.util import convert_dict_to_attrit_dict

    return convert_dict_to_attrit_dict(copy.deepcopy(cfg))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of JialeTao/MRFA at the pinned commit")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "fixtures")
    args = parser.parse_args(argv)
    make(args.repo, args.out)


if __name__ == "__main__":
    main()


def reconstruction(model: torch.nn.Module, source: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The official `reconstruction.py` loop for one video: per driving frame
    `model(x={'source': source, 'driving': driving}, is_train=False)[0]` (the official forward detects the
    source keypoints again on every call); (N,3,H,W) driving -> predictions, under `torch.no_grad`."""

    def one(driving: torch.Tensor) -> torch.Tensor:
        return model(x={"source": source, "driving": driving}, is_train=False)[0]

    return lambda driving: torch.cat([one(frame) for frame in driving.split(1)])
