"""MRAA re-implementation: official configs in `configs/`, network in `network.py`.

Checkpoint names follow the official `checkpoints/<config>.pth` (e.g. `vox256.pth`, `ted384.pth`).
"""

from __future__ import annotations

from pathlib import Path

from qa_harness.reference_models.spec import ReferenceSpec


def _build(model_params: dict):
    from qa_harness.reference_models.mraa.network import MRAA

    return MRAA(model_params)


def _checkpoint_file(config_name: str) -> str:
    return f"{config_name}.pth"


SPEC = ReferenceSpec(
    name="mraa",
    configs_dir=Path(__file__).parent / "configs",
    default_config="vox256",
    hosting="the MRAA Google Drive folder "
    "https://drive.google.com/drive/folders/1jCeFPqfU_wKNYwof0ONICwsj3xHlr_tb "
    "(the repository's git-LFS copies are over quota)",
    checkpoint_file=_checkpoint_file,
    build=_build,
)
