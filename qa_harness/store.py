"""The run folder: per-pair shards written atomically, so a crashed run resumes where it stopped.

```
<out>/.lock                  held (flock) by the live run, see `lock.py`
<out>/run.json               what was run (fingerprint) and the MLflow run id
<out>/pairs/<key>.parquet    frame records of one finished pair
<out>/pairs/<key>.json       its ClipOutcome, written last: its presence means "pair finished"
<out>/frames.parquet         all frame records, gathered at the end
<out>/clips.parquet          one row per pair: status, error, clip-level metrics (and `metric_errors`,
                             "metric: reason; ...", when some metric failed on some pair)
```
Shards are keyed by a hash of the pair id, since ids are user strings (any characters).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from qa_harness.atomic import write_atomic
from qa_harness.errors import QaHarnessError, storage_errors
from qa_harness.lock import LOCK_NAME, RunLock
from qa_harness.records import CLIP_METRIC_PREFIX, METRIC_ERRORS, ClipOutcome, PairRecords
from qa_harness.runs.meta import RunMeta


class RunStore:
    """Reads and writes one run folder."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir).resolve()  # absolute: workers may run in another folder
        self.pairs_dir = self.out_dir / "pairs"
        self.lock = RunLock(self.out_dir)
        #: The run an `--overwrite` replaced (its run.json), so its MLflow run can be ended; None otherwise.
        self.replaced: RunMeta | None = None

    @staticmethod
    def key(pair_id: str) -> str:
        return hashlib.sha1(pair_id.encode()).hexdigest()[:16]

    def open(self, fingerprint: dict[str, Any], *, resume: bool, overwrite: bool) -> RunMeta:
        """Lock the folder (held until `close`), then create it, or reopen it for `--resume` when it holds the
        same run; returns run.json. A folder a live run holds is refused, whatever the mode."""
        action = "resume it" if resume else "overwrite it" if overwrite else "start a run in it"
        with storage_errors(self.out_dir):
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.lock.acquire(action=action)
        try:
            return self._open_locked(fingerprint, resume=resume, overwrite=overwrite)
        except BaseException:
            self.close()
            raise

    def _open_locked(self, fingerprint: dict[str, Any], *, resume: bool, overwrite: bool) -> RunMeta:
        meta_path = self.out_dir / "run.json"
        if meta_path.exists():
            meta = RunMeta.load(meta_path)
            if resume:
                if meta.fingerprint != fingerprint:
                    changed = sorted(k for k in fingerprint if meta.fingerprint.get(k) != fingerprint[k])
                    raise QaHarnessError(
                        f"{meta_path}: cannot resume: this run differs in {', '.join(changed)}; "
                        "use another --out folder or --overwrite"
                    )
                return meta
            if not overwrite:
                raise QaHarnessError(
                    f"{self.out_dir} already holds a run; pass --resume to continue it or --overwrite to replace it"
                )
            self.replaced = meta
            with storage_errors(self.out_dir):
                for child in self.out_dir.iterdir():  # all but the lock we hold
                    if child.name != LOCK_NAME:
                        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        with storage_errors(self.out_dir):
            self.pairs_dir.mkdir(parents=True, exist_ok=True)
            meta = RunMeta(fingerprint)
            self.write_meta(meta)
        return meta

    def close(self) -> None:
        """Release the folder's lock (idempotent)."""
        self.lock.release()

    def write_meta(self, meta: RunMeta) -> None:
        meta.save(self.out_dir / "run.json")

    def finished(self) -> dict[str, ClipOutcome]:
        """Outcomes of the pairs already finished (ok or failed), by pair id."""
        done = {}
        for path in sorted(self.pairs_dir.glob("*.json")):
            outcome = ClipOutcome(**json.loads(path.read_text()))
            done[outcome.pair_id] = outcome
        return done

    def save_pair(self, outcome: ClipOutcome, records: PairRecords | None) -> None:
        """Write one pair's records (column-wise), then its outcome (the commit point)."""
        key = self.key(outcome.pair_id)
        if records is not None and len(records):
            write_atomic(self.pairs_dir / f"{key}.parquet", records.to_frame().to_parquet(index=False))
        write_atomic(self.pairs_dir / f"{key}.json", json.dumps(asdict(outcome)).encode())

    def gather(self, pair_order: list[str], outcomes: dict[str, ClipOutcome]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """All frame records of the `outcomes` (from `finished`) in suite order, and the per-pair table; both
        also written to disk."""
        parts = [
            pd.read_parquet(self.pairs_dir / f"{self.key(pid)}.parquet")
            for pid in pair_order
            if pid in outcomes and (self.pairs_dir / f"{self.key(pid)}.parquet").exists()
        ]
        frames = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        rows = []
        with_errors = any(o.metric_errors for o in outcomes.values())
        for pid in pair_order:
            if pid not in outcomes:
                continue
            o = outcomes[pid]
            row = {
                "pair_id": o.pair_id,
                "status": o.status,
                "frames": o.frames,
                "seconds": o.seconds,
                "error": o.error,
                "output_out_of_range": o.output_out_of_range,
            }
            row.update({CLIP_METRIC_PREFIX + k: v for k, v in o.clip_metrics.items()})
            if with_errors:
                row[METRIC_ERRORS] = "; ".join(f"{m}: {why}" for m, why in o.metric_errors.items())
            rows.append(row)
        clips = pd.DataFrame(rows)
        write_atomic(self.out_dir / "frames.parquet", frames.to_parquet(index=False))
        write_atomic(self.out_dir / "clips.parquet", clips.to_parquet(index=False))
        return frames, clips
