"""The reader layer: what the gate, `compare`, the report and `evaluate`'s own summary read of a run.

`records.RunRecords` (one run's tables), `selectors` (which frames a condition means), `stats` (per-clip
values, a clip's condition, the bootstrap, the paired bootstrap, worst clips: the one place numbers come
from), `condition_stats` (paired regression tests of a condition), `table` (the condition table), `meta`
(`summary.json`, `run.json`), `mlflow_io` (runs read from MLflow). Nothing here imports the gate, compare
or the report: they are peers on top of it, and read a run's tables only through here
(`tests/test_codebase.py::test_stages_read_runs_through_the_runs_layer`).
"""
