"""Native libraries' own writes to the terminal, kept out of it.

MediaPipe's C++ graphs (Face Mesh, Face Detection, Hands, Pose) write start-up chatter (TFLite delegate,
`inference_feedback_manager.cc` "Feedback manager requires a model with a single signature", NORM_RECT
warnings) straight to file descriptor 2 when a graph is built, when it runs and when it is destroyed;
Python logging settings do not reach it, and to a user it reads like an error (issue #15: 6-18 lines per
command). Two scopes:

- `native_stderr_to_debug_log`: a window around one native call, for library use (the tagger, the
  landmark backends), which must not take over a process it does not own.
- `native_lines_filtered`: the `qa-harness` executable's whole process. A window cannot catch a line written
  by a graph's thread after the call returned, or by a destructor at exit (a loaded CI machine showed
  one), so the executable routes fd 2 through a pipe and drops what has the form of a native log line
  (`NATIVE_LINE`) to the debug log; everything else reaches the terminal unchanged. Python's own
  `sys.stderr` (messages, tracebacks, progress bars) writes to the terminal directly, not through the
  pipe, so nothing of ours waits for a newline or is lost if the process dies.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: A native log line: glog/absl (`W0000 00:00:1733.1  123 file.cc:42] ...`), TFLite's `INFO: Created
#: TensorFlow Lite ... delegate`, absl's notice that logging is not initialised. Searched anywhere in a
#: line: another writer may have left its own line unfinished.
NATIVE_LINE = re.compile(
    rb"(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
#: Set once `native_lines_filtered` has taken fd 2 over for the process.
_process_filter_on = threading.Event()
#: How long the end of the executable waits for the pipe to drain.
DRAIN_SECONDS = 2.0


@contextlib.contextmanager
def native_stderr_to_debug_log(source: str = "mediapipe") -> Iterator[None]:
    """Send what is written to file descriptor 2 meanwhile to the debug log (`-vv` shows it).

    Used only around native calls (a graph's construction and its `process` calls), never around code
    that may have something to tell the user. Under `native_lines_filtered` (the executable) the pipe
    already does this, so the window costs nothing there (no temporary file per frame)."""
    if _process_filter_on.is_set():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                log.debug("%s: %s", source, line)


class _Pump(threading.Thread):
    """Forwards the pipe to the terminal line by line, native log lines to the debug log instead."""

    def __init__(self, pipe: int, terminal: int) -> None:
        super().__init__(name="native-stderr", daemon=True)
        self.pipe, self.terminal = pipe, terminal
        self.marker = f"qa-harness-drain-{os.getpid()}-{id(self)}\n".encode()
        self.drained = threading.Event()

    def run(self) -> None:
        with os.fdopen(self.pipe, "rb") as lines:
            for line in lines:
                if line.endswith(self.marker):  # after an unfinished line, if one was left
                    line = line[: -len(self.marker)]
                    self.drained.set()
                native = NATIVE_LINE.search(line)  # at the start, or after another writer's unfinished line
                if native:
                    log.debug("native: %s", line[native.start() :].decode(errors="replace").rstrip())
                    line = line[: native.start()]
                if line:
                    os.write(self.terminal, line)

    def drain(self) -> None:
        """Wait until everything written to fd 2 so far has been forwarded (a marker's round trip)."""
        os.write(2, self.marker)
        self.drained.wait(DRAIN_SECONDS)


@contextlib.contextmanager
def native_lines_filtered() -> Iterator[None]:
    """From here to the end of the process, native log lines written to fd 2 go to the debug log.

    fd 2 stays on the pipe after the block, so that graphs destroyed at interpreter exit (the cached
    face analyses hold one) are filtered too; the block's end waits until what was written before it
    has reached the terminal. What native code writes during interpreter finalization itself may be
    dropped (the pump thread is stopped then), native log lines or not."""
    sys.stderr.flush()
    terminal = os.dup(2)
    sys.stderr = open(  # noqa: SIM115 (the process's stderr from now on)
        terminal, "w", buffering=1, encoding=sys.stderr.encoding, errors=sys.stderr.errors, closefd=False
    )
    if faulthandler.is_enabled():
        faulthandler.enable(sys.stderr)
    pipe, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    pump = _Pump(pipe, terminal)
    pump.start()
    _process_filter_on.set()
    try:
        yield
    finally:
        sys.stderr.flush()
        pump.drain()
