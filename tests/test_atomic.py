"""Atomic writes: the old file or the new one, never half of one, and no temporary file left behind."""

from __future__ import annotations

import pytest

from qa_harness.atomic import write_atomic


def test_replaces_whole_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "run.json"
    write_atomic(path, b"old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["run.json"]
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # fails while writing
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["run.json"]
