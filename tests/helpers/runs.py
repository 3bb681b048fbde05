"""Records tables as `RunRecords`, for tests that feed the runs layer hand-made frames."""

from __future__ import annotations

import pandas as pd

from qa_harness.runs.records import RunRecords


def records(frames: pd.DataFrame, clips: pd.DataFrame | None = None, *, run_id: str = "t", **directions) -> RunRecords:
    """`frames` / `clips` of a run `run_id` on suite `s@v`; `directions`: metric -> higher_is_better."""
    return RunRecords(
        run_id=run_id,
        name=run_id,
        suite="s",
        suite_version="v",
        frames=frames,
        clips=clips,
        higher_is_better=directions,
    )
