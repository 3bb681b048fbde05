"""TPSMM re-implementation: official configs in `configs/`, network in `network.py`.

Checkpoint file names: the code's default is `checkpoints/vox.pth.tar`; the published files are
`<dataset>.pth.tar` (vox, taichi, ted, mgif).
"""

from __future__ import annotations

from pathlib import Path

from qa_harness.reference_models.spec import ReferenceSpec


def _build(model_params: dict):
    from qa_harness.reference_models.tpsmm.network import TPSMM

    return TPSMM(model_params)


def _checkpoint_file(config_name: str) -> str:
    return f"{config_name.rsplit('-', 1)[0]}.pth.tar"


SPEC = ReferenceSpec(
    name="tpsmm",
    configs_dir=Path(__file__).parent / "configs",
    default_config="vox-256",
    hosting="the TPSMM Google Drive folder "
    "https://drive.google.com/drive/folders/1pNDo1ODQIb5HVObRtCmubqJikmR7VVLT (mirrors: Yandex disk, "
    "Baidu pan with code 1234, linked from the official README)",
    checkpoint_file=_checkpoint_file,
    build=_build,
)
