"""The exit codes of every `qa-harness` command, and the signal handling that keeps them honest.

0   success (a gate passed, an evaluation with every pair ok)
1   a quality gate failed (only `gate` exits 1)
2   a usage, configuration, input or environment error the user can fix: one `qa-harness: error:` line
    naming the file (or store) and the problem, no traceback
3   an evaluation finished but some pairs failed (listed in its summary)
4   an internal error (a bug in qa_harness or in plug-in model/metric code): the traceback is printed
130 interrupted by SIGINT, 143 by SIGTERM (128 + signal number); the MLflow run is marked KILLED

No code path maps a failure to 0: `SystemExit` raised by plug-in code is an internal error (4).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR, EXIT_CLIPS_FAILED, EXIT_INTERNAL = 0, 1, 2, 3, 4


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like SIGINT's KeyboardInterrupt, so a run ends KILLED, not hung."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum


#: SIGTERMs received inside `sigterm_raises`: a library may turn our `Terminated` into a plain
#: KeyboardInterrupt (Ray's `ray.wait` does), and the exit code must still say SIGTERM.
_received: list[int] = []


def _signum(err: KeyboardInterrupt) -> int:
    if isinstance(err, Terminated):
        return err.signum
    return _received[-1] if _received else signal.SIGINT


def interrupted_code(err: KeyboardInterrupt) -> int:
    """128 + the signal number: SIGTERM's when one was received (whatever became of its exception), else SIGINT."""
    return 128 + _signum(err)


def interrupted_reason(err: KeyboardInterrupt) -> str:
    """'received SIGTERM' / 'received SIGINT': what interrupted the run."""
    return f"received {signal.Signals(_signum(err)).name}"


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` (Python's default would end the process without cleanup)."""
    _received.clear()

    def handler(signum: int, frame: object) -> None:
        _received.append(signum)
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
