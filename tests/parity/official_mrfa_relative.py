"""Records MRFA relative-mode fixtures from the official animation code (JialeTao/MRFA at 20f935f) on CPU.

Usage as for `tests.parity.official_mrfa` (same checkout, same einops):

    python -m tests.parity.official_mrfa_relative --repo /path/to/MRFA --out tests/parity/fixtures

The official relative animation is `demo.make_animation` (per driving frame: `animate_ddp.normalize_kp`,
the prior's dense motion with no background motion, the decoder on the source); it runs here unchanged
under the shims of `official_mrfa` plus `Tensor.cuda` as a no-op and empty `frames_dataset` / `logger`
modules (dataset reading and visualisation, which import sklearn, pandas and cv2; nothing called here).

Two official failures are recorded, not worked around silently:
- with the tpsm prior, `make_animation(relative=True)` raises `KeyError: 'jacobian'` (it always asks
  `normalize_kp` for relative Jacobians; the TPS detector has none). The fixture's frames are what the same
  official functions give with `use_relative_jacobian` off for keypoints without Jacobians, the project's
  behaviour; the maker fails if the official call stops raising.
- `animate_ddp.animate` reads `animate_params.adapt_movement_scale`, which every shipped config nests under
  `animate_params.normalization_params` (`KeyError: 'adapt_movement_scale'`), and uses a `cfg` it never
  defines; the maker fails if either stops being true.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import sys
import types
from pathlib import Path

import numpy as np
import torch
import yaml

from tests.parity.common import SEED, clip_frames
from tests.parity.official_mrfa import (
    PINNED_COMMIT,
    TINY_VARIANTS,
    _variant,
    build_official,
    check_regime,
    checksums,
    load_official,
    model_state,
    tiny_config,
)

#: Relative fixtures: name -> tiny variant of `official_mrfa.TINY_VARIANTS` (prior and weight gains).
RELATIVE_VARIANTS = {"mtia_moving": "mtia_moving", "tpsm": "tpsm"}
#: Driving frames: `common.FRAME_INDICES` of the real clip (the first is the driving's initial frame); the
#: source is the first frame mirrored, another "identity" in the same pose.


def load_animation_code(repo: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """The official `demo` and `animate_ddp` modules, imported from `repo` under the shims above."""
    load_official(repo)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]

    def unavailable(name: str):
        def refuse(*args, **kwargs):
            raise RuntimeError(f"{name}: dataset/visualisation code is not available in the fixture maker")

        return refuse

    for name in ("frames_dataset", "logger"):
        stub = types.ModuleType(name)
        stub.__getattr__ = unavailable  # type: ignore[attr-defined]
        sys.modules[name] = stub
    import animate_ddp
    import demo

    return demo, animate_ddp


def animate_ddp_failures(animate_ddp: types.ModuleType, config: dict) -> list[str]:
    """The reasons official `animate_ddp.animate` cannot run a shipped config (the maker fails without them)."""
    try:
        animate_ddp.animate(copy.deepcopy(config), None, None, "/nonexistent", None)
    except KeyError as err:
        failures = [f"KeyError: {err}: animate_params has keys {sorted(config['animate_params'])}"]
    else:
        raise SystemExit("official animate_ddp.animate no longer fails on the shipped config: re-check item 4")
    source = inspect.getsource(animate_ddp.animate)
    if "cfg.train_params" not in source or hasattr(animate_ddp, "cfg"):
        raise SystemExit("official animate_ddp.animate no longer uses an undefined `cfg`: re-check item 4")
    failures.append("NameError: animate() reads cfg.train_params['prior_model'] but never defines cfg")
    return failures


def run_relative(
    demo: types.ModuleType, model: torch.nn.Module, cfg: dict, source: torch.Tensor, driving: torch.Tensor, adapt: bool
) -> tuple[torch.Tensor, torch.Tensor, str | None]:
    """Official `make_animation(relative=True)`: (predictions (N,3,H,W), normalised keypoints (N,K,2),
    the official error). When it raises for keypoints without Jacobians, it is run again with
    `normalize_kp(use_relative_jacobian=...)` off for them, everything else official."""
    from modules.util import convert_dict_to_attrit_dict

    attr = convert_dict_to_attrit_dict(copy.deepcopy(cfg))
    image = source.permute(1, 2, 0).double().numpy() / 255
    video = [frame.permute(1, 2, 0).double().numpy() / 255 for frame in driving]
    normalize_kp, captured = demo.normalize_kp, []

    def run(jacobian_optional: bool) -> list[np.ndarray]:
        def spy(**kwargs):
            if jacobian_optional and "jacobian" not in kwargs["kp_driving"]:
                kwargs["use_relative_jacobian"] = False
            out = normalize_kp(**kwargs)
            captured.append(out["kp"])
            return out

        captured.clear()
        demo.normalize_kp = spy
        try:
            return demo.make_animation(
                attr,
                image,
                video,
                model.encoder,
                model.dense_motion,
                model.decoder,
                relative=True,
                adapt_movement_scale=adapt,
                cpu=True,
            )
        finally:
            demo.normalize_kp = normalize_kp

    error = None
    try:
        predictions = run(jacobian_optional=False)
    except KeyError as err:
        error = f"KeyError: {err}"
        predictions = run(jacobian_optional=True)
    frames = torch.from_numpy(np.stack(predictions)).permute(0, 3, 1, 2).float()
    return frames, torch.cat(captured), error


def make(repo: Path, out: Path) -> None:
    """Writes `out/mrfa_tiny_relative.pt`: per variant the official config, weight checksums, frames and the
    relative predictions with and without `adapt_movement_scale`; and the official code's failures."""
    demo, animate_ddp = load_animation_code(repo)
    out.mkdir(parents=True, exist_ok=True)
    vox1 = yaml.safe_load((repo / "config" / "vox1.yaml").read_text())
    tiny = tiny_config(vox1)
    video = (clip_frames(64) * 255).round().to(torch.uint8)
    source, driving = video[0].flip(-1).clone(), video
    variants = {}
    for name, tiny_name in RELATIVE_VARIANTS.items():
        prior, changes, _, gains = TINY_VARIANTS[tiny_name]
        cfg = _variant(tiny, prior, changes)
        model = build_official(sys.modules["modules.model"], cfg, gains)
        state = model_state(model)
        record = {
            "config": cfg,
            "gains": gains,
            "shapes": {k: list(v.shape) for k, v in state.items()},
            "checksums": checksums(state),
            "adapt": {},
        }
        for adapt in (False, True):
            with torch.no_grad():
                prediction, kp_norm, error = run_relative(demo, model, cfg, source, driving, adapt)
            check_regime(f"{name} relative", {"prediction": prediction}, None)
            record["adapt"][str(adapt)] = {"prediction": prediction, "kp_norm": kp_norm}
        if (error is None) == (prior == "tpsm"):
            raise SystemExit(f"{name}: official relative demo error {error!r}: re-check item 4")
        record["official_error"] = error
        variants[name] = record
    torch.save(
        {
            "commit": PINNED_COMMIT,
            "seed": SEED,
            "source": source,
            "driving": driving,
            "variants": variants,
            "animate_ddp_failures": animate_ddp_failures(animate_ddp, vox1),
        },
        out / "mrfa_tiny_relative.pt",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of JialeTao/MRFA at the pinned commit")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "fixtures")
    args = parser.parse_args(argv)
    make(args.repo, args.out)


if __name__ == "__main__":
    main()
