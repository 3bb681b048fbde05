"""The weight-file convention: explicit path, then $QA_HARNESS_WEIGHTS, then the upstream cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.weights import find_weight_file, load_state_dict, torch_hub_checkpoints, weights_dir


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_lookup_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "qa"))
    upstream = tmp_path / "upstream"
    in_upstream = _touch(upstream / "net.pth")
    assert find_weight_file("net.pth", source="s", upstream=[upstream]) == in_upstream
    in_qa = _touch(tmp_path / "qa" / "net.pth")
    assert find_weight_file("net.pth", source="s", upstream=[upstream]) == in_qa
    explicit = _touch(tmp_path / "mine.pth")
    assert find_weight_file("net.pth", source="s", explicit=explicit, upstream=[upstream]) == explicit


def test_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("QA_HARNESS_WEIGHTS", raising=False)
    assert weights_dir() == Path("~/.cache/qa_harness/weights").expanduser()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch_hub_checkpoints() == tmp_path / "hub" / "checkpoints"
    assert torch_hub_checkpoints() == Path(torch.hub.get_dir()) / "checkpoints"


def test_absent_file_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "qa"))
    with pytest.raises(WeightsUnavailableError) as info:
        find_weight_file("net.pth", source="https://example.org/net.pth", upstream=[tmp_path / "up"])
    assert str(info.value) == (
        f"weight file 'net.pth' not found; it comes from https://example.org/net.pth. Searched: "
        f"{tmp_path / 'qa'}, {tmp_path / 'up'}. Put the file in one of these folders "
        f"(e.g. {tmp_path / 'qa' / 'net.pth'}; set $QA_HARNESS_WEIGHTS to use another folder) "
        "or give its path explicitly."
    )


class Custom:
    """A class of this test module: unpickling an instance needs code."""


def test_weight_file_needing_code_is_refused_naming_the_class(tmp_path) -> None:
    path = tmp_path / "net.pth"
    torch.save({"w": torch.ones(2), "extra": Custom()}, path)
    with pytest.raises(CheckpointError) as info:
        load_state_dict(path)
    assert str(info.value) == f"{path}: refused: it needs unpickling of {__name__}.Custom, which can run arbitrary code"
