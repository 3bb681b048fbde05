"""Tag-accuracy benchmark: the condition tags against labelled face datasets, as Markdown tables.

    python -m benchmarks.tags_bench [--labels ../shared/data/labels] [--section pose|...|all|none]
                                    [--mask-sample DIR ...]

Each section (`benchmarks/tagbench/<name>.py`, registered in `benchmarks/tagbench/__init__.py`)
reads its folder of `--labels` (the layout of `../shared/data/labels/README.md`) and prints counts,
errors and 95 % intervals for `benchmarks/RESULTS.md`. The labelled images are research data that
users' clones do not have: without the folder this prints why and exits 0. `--mask-sample` adds a
table of masked-mouth detection on photo folders outside it (`benchmarks/tagbench/masks.py`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.tagbench import SECTIONS, masks

DEFAULT_LABELS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "labels"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labelled data folder")
    parser.add_argument("--section", choices=[*SECTIONS.names(), "all", "none"], default="all")
    parser.add_argument(
        "--mask-sample", type=Path, action="append", default=[], help="DIR with with_mask/, without_mask/"
    )
    args = parser.parse_args(argv)
    if args.mask_sample:
        print(masks.run(args.mask_sample))
    if not args.labels.is_dir():
        print(f"skipped: no labelled data at {args.labels} (see ../shared/data/labels/README.md)")
        return 0
    names = {"all": SECTIONS.names(), "none": []}.get(args.section, [args.section])
    for name in names:
        print(SECTIONS.get(name)(args.labels.resolve()))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
