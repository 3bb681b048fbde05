"""Native libraries' own writes to the terminal, kept out of it.

MediaPipe's C++ graphs (Face Mesh, Face Detection, Hands, Pose) write start-up chatter (TFLite delegate,
`inference_feedback_manager.cc` "Feedback manager requires a model with a single signature", NORM_RECT
warnings) straight to file descriptor 2 when a graph is built and when it first runs; Python logging
settings do not reach it, and to a user it reads like an error (issue #15: 6-18 lines per command).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)


@contextlib.contextmanager
def native_stderr_to_debug_log(source: str = "mediapipe") -> Iterator[None]:
    """Send what is written to file descriptor 2 meanwhile to the debug log (`-vv` shows it).

    Used only around native calls (a graph's construction and its `process` calls), never around code
    that may have something to tell the user."""
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
