"""What reaches the terminal: no native library chatter, each warning once (real subprocesses).

MediaPipe's C++ graphs write start-up lines (`inference_feedback_manager.cc:114] Feedback manager ...`)
straight to file descriptor 2; before, `suites tag` printed 6 of them and evaluate with face metrics
more. A missing weight file was told twice (a log warning at build time, then the summary line).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.faults.common import REPO, cli, env, evaluate_args, write_tiny_suite

pytest.importorskip("mediapipe", reason="face metrics and tagging need the 'face' extra (pip install -e '.[face]')")

#: A glog line of native code: severity letter, date, time, thread, file.cc:line]
NATIVE_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+\.(cc|cpp|h):\d+\]", re.MULTILINE)


@pytest.mark.slow
def test_suites_tag_prints_no_mediapipe_startup_lines(tmp_path):
    suite = write_tiny_suite(tmp_path, clips=("d20", "vrt_face5"), extra={"resolution": 128})
    result = cli("suites", "tag", str(suite), "--out", str(tmp_path / "tagged.yaml"))  # face box, mesh, hands, pose
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LINE.search(result.stderr), result.stderr
    assert "inference_feedback_manager" not in result.stderr + result.stdout


@pytest.mark.slow
def test_evaluate_with_face_metrics_is_quiet_and_tells_a_missing_weight_once(tmp_path):
    suite = write_tiny_suite(tmp_path, clips=("d20",), extra={"resolution": 128})
    empty = tmp_path / "no_weights"
    empty.mkdir()
    args = evaluate_args(suite, tmp_path / "run", f"sqlite:///{tmp_path / 'db'}")
    result = cli(*args, "--metrics", "akd,lpips", QA_HARNESS_WEIGHTS=str(empty), TORCH_HOME=str(empty))
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LINE.search(result.stderr), result.stderr
    told = result.stdout + result.stderr
    assert told.count("weight file 'alexnet-owt-7be5be79.pth' not found") == 1, told  # before: 2
    assert "metric lpips unavailable: weight file 'alexnet-owt-7be5be79.pth' not found" in result.stdout
    assert "metric lpips unavailable (weights absent)" in result.stderr  # the early notice, without the details


#: A process that writes native-looking lines to fd 2 at the three moments a window around native calls
#: misses: from another thread after the call returned, from a destructor at interpreter exit, and after
#: another writer's unfinished line; and the lines that must still reach the terminal.
NOISY_PROCESS = """
import os, sys, threading, time
from qa_harness.native import native_lines_filtered

class Graph:
    def __del__(self):
        os.write(2, b"W0000 00:00:1733168222.123456   12345 calculator_graph.cc:99] destroyed at exit\\n")

graph = Graph()
with native_lines_filtered():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    late = threading.Thread(target=lambda: (time.sleep(0.3), os.write(
        2, b"W0000 00:00:1.2  99 inference_feedback_manager.cc:114] Feedback manager requires a model\\n")))
    late.start()
    os.write(2, b"plain native text\\n")
    print("python message", file=sys.stderr)
    sys.stderr.write("\\rprogress 50%")
    sys.stderr.flush()
    os.write(2, b"unfinished ")
    late.join()
    os.write(2, b"last line\\n")
print("done")
"""


def test_native_log_lines_never_reach_the_terminal_whenever_written():
    result = subprocess.run(
        [sys.executable, "-c", NOISY_PROCESS], capture_output=True, text=True, cwd=REPO, env=env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert "python message\n" in result.stderr and "progress 50%" in result.stderr
    assert "plain native text\n" in result.stderr and "unfinished " in result.stderr and "last line\n" in result.stderr
    assert not NATIVE_LINE.search(result.stderr), result.stderr  # late thread, exit-time destructor
    assert "TensorFlow Lite" not in result.stderr and "Feedback manager" not in result.stderr
