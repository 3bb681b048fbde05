"""Metrics: per-frame values from (output, ground truth, source) batches. Aggregation is downstream."""
