"""FOMM re-implementation: official configs in `configs/`, network in `network.py`.

Checkpoint names follow the published `<dataset>-cpk.pth.tar` pattern (`vox-cpk.pth.tar`,
`vox-adv-cpk.pth.tar` are verified in the official README; the others are inferred from that pattern).
"""

from __future__ import annotations

from pathlib import Path

from qa_harness.reference_models.spec import ReferenceSpec


def _build(model_params: dict):
    from qa_harness.reference_models.fomm.network import FOMM

    return FOMM(model_params)


def _checkpoint_file(config_name: str) -> str:
    return f"{config_name.removesuffix('-256')}-cpk.pth.tar"


SPEC = ReferenceSpec(
    name="fomm",
    configs_dir=Path(__file__).parent / "configs",
    default_config="vox-256",
    hosting="the FOMM Google Drive folder "
    "https://drive.google.com/drive/folders/1PyQJmkdCsAkOYwUyaj_l-l0as-iLDgeH "
    "(mirror https://yadi.sk/d/lEw8uRm140L_eQ)",
    checkpoint_file=_checkpoint_file,
    build=_build,
)
