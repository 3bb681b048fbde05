"""The run-folder lock: one live evaluation per `--out` folder, whatever the process or the user.

An OS file lock (`flock`) on `<out>/.lock`, taken before the folder is read and held until the run
ends. The kernel drops it when its process dies, so a lock left by a process killed with `kill -9`
is stale by construction: the next run takes it over (and says so). The file holds the owner's pid,
host and start time, only to name the live run in the error of the one refused.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from qa_harness.errors import QaHarnessError

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"


class RunFolderBusy(QaHarnessError):
    """Another live process holds the run folder."""


class RunLock:
    """An exclusive, non-blocking lock on one run folder; `release` (or process exit) frees it."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, *, action: str) -> None:
        """Take the lock or raise `RunFolderBusy` naming the live owner; `action` says what was refused."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _describe(_read_owner(fd))
            os.close(fd)
            raise RunFolderBusy(
                f"{self.path.parent}: cannot {action}: the folder is in use by a live run ({owner}); wait for it "
                "to end or use another --out folder"
            ) from None
        previous = _read_owner(fd)
        if previous:
            log.warning("%s: taking over the lock of an ended run (%s)", self.path, _describe(previous))
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Free the lock (the owner record is cleared, so a later run does not report a takeover)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_owner(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}


def _describe(owner: dict) -> str:
    if not owner:
        return "owner unknown"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("started", 0)))
    return f"pid {owner.get('pid')} on {owner.get('host')}, started {started}"
