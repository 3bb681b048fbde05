"""Relative mode's `adapt_movement_scale` defaults to what each official config (and its animate code) says."""

from __future__ import annotations

import pytest
import torch

from qa_harness.errors import ConfigError
from qa_harness.models._reference import config_adapt_movement_scale
from qa_harness.models.fomm import build
from qa_harness.reference_models import fomm, mraa, mrfa, tpsmm
from tests.parity.checks import tiny_network
from tests.parity.common import TINY_CONFIGS

#: model -> the default of the official relative animation: FOMM's and MRFA's `animate.py` read
#: `animate_params.normalization_params.adapt_movement_scale` (False in every shipped config); TPSMM's and
#: MRAA's relative motion always multiplies by the convex-hull area ratio.
EXPECTED = {fomm.SPEC: False, mrfa.SPEC: False, tpsmm.SPEC: True, mraa.SPEC: True}


@pytest.mark.parametrize("spec", list(EXPECTED), ids=lambda s: s.name)
def test_every_official_config_gives_its_code_default(spec):
    configs = sorted(spec.configs_dir.glob("*.yaml"))
    assert configs, spec.configs_dir
    for path in configs:
        _, content = spec.load_config(path)
        assert config_adapt_movement_scale(content) is EXPECTED[spec], path.name


def test_the_adapter_takes_the_config_default_unless_told(tmp_path):
    network, _ = tiny_network(fomm.SPEC)
    checkpoint = tmp_path / "tiny-cpk.pth.tar"
    torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()}, checkpoint)
    config = TINY_CONFIGS / "fomm-tiny.yaml"  # normalization_params.adapt_movement_scale: false
    assert build(checkpoint=checkpoint, device="cpu", config=config, relative=True).adapt_movement_scale is False
    told = build(checkpoint=checkpoint, device="cpu", config=config, relative=True, adapt_movement_scale=True)
    assert told.adapt_movement_scale is True
    assert config_adapt_movement_scale({"animate_params": {"normalization_params": None}}) is True


def test_a_config_turning_relative_jacobians_off_is_refused(tmp_path):
    network, _ = tiny_network(fomm.SPEC)
    checkpoint = tmp_path / "tiny-cpk.pth.tar"
    torch.save({key: m.state_dict() for key, m in network.checkpoint_networks().items()}, checkpoint)
    text = (TINY_CONFIGS / "fomm-tiny.yaml").read_text()
    assert "use_relative_jacobian: true" in text.lower()
    config = tmp_path / "fomm-nojac.yaml"
    config.write_text(
        text.replace("use_relative_jacobian: True", "use_relative_jacobian: False").replace(
            "use_relative_jacobian: true", "use_relative_jacobian: false"
        )
    )
    with pytest.raises(ConfigError, match="use_relative_jacobian: false is not supported"):
        build(checkpoint=checkpoint, device="cpu", config=config, relative=True)
    assert build(checkpoint=checkpoint, device="cpu", config=config).relative is False  # absolute mode is fine
