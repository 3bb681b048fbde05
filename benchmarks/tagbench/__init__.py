"""Tag-accuracy benchmark sections: each is `benchmarks/tagbench/<name>.py` with
`run(labels_root: Path) -> str` (Markdown), registered here by name (`benchmarks/tags_bench.py`)."""

from qa_harness.registry import Registry

SECTIONS = Registry("tag benchmark section")
SECTIONS.add("pose", "benchmarks.tagbench.pose:run")
SECTIONS.add("occlusion", "benchmarks.tagbench.occlusion:run")
SECTIONS.add("lighting", "benchmarks.tagbench.lighting:run")
