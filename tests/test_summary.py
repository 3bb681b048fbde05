"""Terminal summaries: the condition table's layout and the headline columns a wide run is cut to."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from qa_harness.records import RunResult
from qa_harness.runs.meta import RunSummary
from qa_harness.runs.table import ConditionTable
from qa_harness.runs.table import condition_table as build_table
from qa_harness.summary import condition_table, headline, print_result
from tests.helpers.runs import records


def _conditions(offset: float) -> ConditionTable:
    """Aggregate of 3 clips x 2 frames: ssim = offset + clip/10, a per-clip `extra`, pose tags."""
    rows = [
        {
            "pair_id": f"c{c}",
            "frame": f,
            "metric:ssim": offset + c / 10,
            "metric:extra": float(c),
            "cond:pose": "frontal" if c < 2 else "extreme",
        }
        for c in range(3)
        for f in range(2)
    ]
    return build_table(records(pd.DataFrame(rows)))


def _table(offset: float) -> pd.DataFrame:
    return _conditions(offset).frame()


def test_headline_keeps_known_order_or_everything():
    assert headline(["extra", "l1", "ssim", "eye_ssim"]) == ["ssim", "l1", "eye_ssim"]
    assert headline(["extra", "other"]) == ["extra", "other"]


def test_condition_table_one_run_and_several():
    one = condition_table({"run": _table(0.5)}, ["ssim", "lpips"])  # lpips: not in the run, no column
    assert list(one.columns) == ["ssim"] and list(one.index) == ["all", "pose=extreme", "pose=frontal"]
    assert one.loc["all", "ssim"] == "0.6 (3)" and one.loc["pose=frontal", "ssim"] == "0.55 (2)"
    two = condition_table({"a": _table(0.5), "b": _table(0.1)}, ["extra", "ssim"])
    assert list(two.columns) == ["extra", "ssim"]
    assert list(two.index)[:2] == [("all", "a"), ("all", "b")] and two.loc[("all", "b"), "ssim"] == "0.2 (3)"


def test_print_result_shows_headline_columns_and_says_what_it_left_out(tmp_path: Path):
    result = RunResult(
        run_id="r",
        out_dir=tmp_path,
        records_path=tmp_path / "frames.parquet",
        outcomes=(),
        table=_conditions(0.5),
        summary=RunSummary("r", perf={"frames_per_second": 1.0}),
    )
    out = io.StringIO()
    print_result(result, file=out)
    text = out.getvalue()
    assert "ssim" in text and "extra" not in text.split("(+")[0]
    assert f"(+1 more metrics in {tmp_path / 'aggregate.csv'})" in text
