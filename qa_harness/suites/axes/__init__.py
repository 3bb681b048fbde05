"""Condition axes: one file each, bound by name in `qa_harness.catalog.AXES`."""
