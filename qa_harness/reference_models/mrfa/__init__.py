"""MRFA ("Learning Motion Refinement for Unsupervised Face Animation", NeurIPS 2023), re-implemented.

Faithful to the official code (JialeTao/MRFA at commit 20f935f2ee63c0e9b55c38a283bdd5b4dbf7415f): built
from its YAML configs unchanged (`configs/`: vox1, celebvhq), loading its checkpoints unchanged
(`checkpoint.py`). Without an explicit checkpoint the file is `$QA_HARNESS_WEIGHTS/mrfa/<config>.pth`.
"""

from __future__ import annotations

from pathlib import Path

from qa_harness.reference_models.mrfa.checkpoint import HOSTING, unpack
from qa_harness.reference_models.spec import ReferenceSpec


def _build(config: dict):
    from qa_harness.reference_models.mrfa.model import MRFA

    return MRFA(config)


SPEC = ReferenceSpec(
    name="mrfa",
    configs_dir=Path(__file__).parent / "configs",
    default_config="vox1",
    hosting=HOSTING,
    checkpoint_file=lambda config_name: f"{config_name}.pth",
    build=_build,
    config_section=None,
    required_section="raft_flow",
    unpack_checkpoint=unpack,
)
