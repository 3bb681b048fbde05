"""Disk cache of results computed from suite content (ground truth, driving, source), shared by runs.

Suite content is the same for every model evaluated on a suite, so what is computed from it alone
(face analysis, the ground truth's optical flow) is stored once under
`<cache_dir>/<area>/<tag>/<suite version>/<key>.npz`: `tag` names the algorithm, its parameters and
code version (a change lands in another folder), `key` is the content hash of the exact input (a
changed clip, crop or resolution misses). Files are written atomically, so concurrent workers sharing
the folder never read half a file.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np
from torch import Tensor

from qa_harness.atomic import write_atomic

log = logging.getLogger(__name__)


def content_hash(frames: Tensor | np.ndarray) -> str:
    """blake2b of the frames' shape, dtype and bytes (CPU copy); 32 hex digits."""
    data = frames if isinstance(frames, np.ndarray) else frames.detach().cpu().contiguous().numpy()
    dtype = data.dtype if isinstance(frames, np.ndarray) else frames.dtype
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{tuple(data.shape)}|{dtype}".encode())
    digest.update(np.ascontiguousarray(data).tobytes())
    return digest.hexdigest()


class SuiteCache:
    """One area/tag of the cache; with no `cache_dir` nothing is stored (`load` always misses)."""

    def __init__(self, cache_dir: Path | None, *, area: str, tag: str, suite_version: str) -> None:
        self.folder = Path(cache_dir) / area / tag / (suite_version or "unversioned") if cache_dir is not None else None

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under `key`, or None on a miss."""
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}

    def store(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_atomic(path, buffer.getvalue())
        log.debug("suite cache: wrote %s", path)

    def load_array(self, key: str) -> np.ndarray | None:
        """One array stored by `store_array`, memory-mapped copy-on-write (no read, no copy, no checksum:
        for large arrays, where an `.npz` member costs a copy and a CRC pass per load), or None on a miss."""
        path = self._path(key, ".npy")
        if path is None or not path.is_file():
            return None
        return np.load(path, mmap_mode="c")

    def store_array(self, key: str, array: np.ndarray) -> None:
        path = self._path(key, ".npy")
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, array)
        write_atomic(path, buffer.getvalue())
        log.debug("suite cache: wrote %s", path)

    def _path(self, key: str, suffix: str = ".npz") -> Path | None:
        return self.folder / f"{key}{suffix}" if self.folder is not None else None
