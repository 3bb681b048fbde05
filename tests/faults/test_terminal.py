"""What reaches the terminal: no native library chatter, each warning once (real subprocesses).

MediaPipe's C++ graphs write start-up lines (`inference_feedback_manager.cc:114] Feedback manager ...`)
straight to file descriptor 2; before, `suites tag` printed 6 of them and evaluate with face metrics
more. A missing weight file was told twice (a log warning at build time, then the summary line).
"""

from __future__ import annotations

import re

import pytest

from tests.faults.common import cli, evaluate_args, write_tiny_suite

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
