"""Bad plug-in model code: sys.exit, KeyboardInterrupt, a hang, out-of-range output, a raising factory.

None of it may end in success; a pair-level fault fails that pair only (exit 3) and the other pairs'
records are the reference's, bit for bit.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from qa_harness.guards import RANGE_TOLERANCE
from tests.faults.common import assert_good_pairs_identical, cli, error_line, evaluate_args, mlflow_run, run_id_of

FAULTY = "tests.faults.plugins:faulty"


def _run(fault_suite, tmp_path, behaviour: str, *extra: str, bad: str = "tpsmm_driving"):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "run"
    args = evaluate_args(fault_suite, out, uri, FAULTY, f"behaviour={behaviour}", f"bad={bad}")
    return cli(*args, *extra), out, uri


def test_sys_exit_in_animate_fails_that_pair_not_the_run(fault_suite, reference, tmp_path):
    result, out, _ = _run(fault_suite, tmp_path, "exits")
    assert result.returncode == 3, result.stderr  # f8bed04: 0, with no output at all
    clips = pd.read_parquet(out / "clips.parquet").set_index("pair_id")
    assert clips.loc["tpsmm_driving", "status"] == "failed"
    assert clips.loc["tpsmm_driving", "error"] == "model or metric code called sys.exit(0)"
    assert_good_pairs_identical(out, reference, ("d20", "vrt_face5"))


def test_keyboard_interrupt_in_model_ends_killed_not_ok(fault_suite, tmp_path):
    result, out, uri = _run(fault_suite, tmp_path, "interrupts")
    assert result.returncode == 130, result.stderr
    assert "qa-harness: interrupted" in result.stderr and "--resume" in result.stderr
    assert mlflow_run(uri, run_id_of(out)).info.status == "KILLED"


def test_pair_timeout_fails_a_hanging_pair(fault_suite, reference, tmp_path):
    result, out, _ = _run(fault_suite, tmp_path, "hangs", "--pair-timeout", "3")
    assert result.returncode == 3, result.stderr
    clips = pd.read_parquet(out / "clips.parquet").set_index("pair_id")
    assert clips.loc["tpsmm_driving", "error"] == "pair ran past --pair-timeout 3 s"
    assert 3.0 <= clips.loc["tpsmm_driving", "seconds"] < 10.0
    assert_good_pairs_identical(out, reference, ("d20", "vrt_face5"))


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_pair_timeout_must_be_positive_seconds(value):
    result = cli("evaluate", "--pair-timeout", value)
    assert result.returncode == 2 and "expected a positive number of seconds" in result.stderr


def test_output_scaled_0_255_fails_the_pair_with_its_fraction(fault_suite, reference, tmp_path):
    result, out, _ = _run(fault_suite, tmp_path, "scaled_255")
    assert result.returncode == 3, result.stderr  # f8bed04: clamped silently, exit 0 with plausible numbers
    clips = pd.read_parquet(out / "clips.parquet").set_index("pair_id")
    bad = clips.loc["tpsmm_driving"]
    assert bad["status"] == "failed" and "outside [0, 1]" in bad["error"] and "0..255" in bad["error"]
    assert bad["output_out_of_range"] > 0.9  # every value that is not exactly 0 ends above 1
    assert clips.loc["d20", "output_out_of_range"] == 0.0
    assert_good_pairs_identical(out, reference, ("d20", "vrt_face5"))


@pytest.mark.slow
def test_slight_overshoot_is_counted_warned_and_tolerated(fault_suite, reference, tmp_path):
    result, out, uri = _run(fault_suite, tmp_path, "overshoots")
    assert result.returncode == 0, result.stderr
    assert "of the model's output values lie outside [0, 1]" in result.stderr
    clips = pd.read_parquet(out / "clips.parquet").set_index("pair_id")
    # one value in 200 set to 1.02 (3 frames x 3 x 64 x 64 values): 0.5 % of them, below the tolerance
    assert clips.loc["tpsmm_driving", "output_out_of_range"] == pytest.approx(1 / 200, abs=1e-4)
    assert clips.loc["tpsmm_driving", "output_out_of_range"] < RANGE_TOLERANCE
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["clips/output_out_of_range"] == 1
    assert_good_pairs_identical(out, reference, ("d20", "vrt_face5"))
    # shown where a user looks, not only in the records: the terminal summary and the HTML report
    assert (
        "output out of range on tpsmm_driving: 0.50% of its values outside [0, 1]; clamped before scoring "
        "(tolerance 1%)" in result.stdout
    )
    assert "output out of range on d20" not in result.stdout
    html = tmp_path / "report.html"
    report = cli("report", run_id_of(out), "--tracking-uri", uri, "--out", str(html), "--no-log")
    assert report.returncode == 0, report.stderr
    text = html.read_text()
    assert "1 clip(s) with values outside [0, 1], clamped before scoring: tpsmm_driving 0.50%" in text
    assert "<th>out of [0, 1]</th>" in text and "<td>0.50%</td>" in text


@pytest.mark.parametrize(
    ("factory", "said"), [("factory_raises", "RuntimeError: CUDA out of memory"), ("factory_exits", "sys.exit(0)")]
)
def test_a_factory_that_fails_exits_2_naming_the_model(fault_suite, tmp_path, factory, said):
    model = f"tests.faults.plugins:{factory}"
    result = cli(*evaluate_args(fault_suite, tmp_path / "run", f"sqlite:///{tmp_path / 'db'}", model))
    assert result.returncode == 2  # f8bed04: 1 (the gate-failed code) with a traceback; sys.exit(0): 0
    line = error_line(result)
    assert f"model {model!r}: building it failed" in line and said in line
