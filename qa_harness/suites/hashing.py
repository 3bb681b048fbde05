"""Content hashes: a suite's version changes when its manifest or any media byte changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from qa_harness.video.io import frame_files

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def media_sha256(path: Path) -> str:
    """sha256 of a file, or of a frame folder's (name, content) sequence."""
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for frame in frame_files(path):
        digest.update(frame.name.encode())
        digest.update(bytes.fromhex(file_sha256(frame)))
    return digest.hexdigest()


def combine(parts: Iterable[str], *, length: int = 16) -> str:
    """A short hash over ordered string parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:length]
