"""Rebuilding our MRFA from a recorded official fixture (`tests/parity/official_mrfa.py`).

The fixture holds the official config, the seed and per-tensor checksums of the official weights;
`seeded_network` builds our network from that config, fills it with the same name-seeded values
(`common.seed_weights`) and checks names, shapes and checksums against the record before anything is
compared.
"""

from __future__ import annotations

from pathlib import Path

import torch

from qa_harness.reference_models.mrfa.model import MRFA
from tests.parity.common import seed_weights
from tests.parity.official_mrfa import checksums

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    return torch.load(FIXTURES / f"{name}.pt", map_location="cpu", weights_only=True)


def seeded_network(record: dict) -> MRFA:
    """Our MRFA for the record's config holding the official seeded weights (loaded strictly)."""
    network = seed_weights(MRFA(record["config"]).eval(), record["seed"], record.get("gains"))
    state = network.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == record["shapes"]
    ours = checksums(state)
    for name, value in record["checksums"].items():
        close = abs(ours[name] - value) <= 1e-6 * max(1.0, value)
        assert close, f"{name}: weights differ from the official ones"
    network.load_state_dict(state, strict=True)
    return network


def frames(record: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The recorded source and driving frames as the network saw them (uint8 / 255)."""
    return record["source"].float() / 255, record["driving"].float() / 255
