"""Self-contained HTML failure reports (`qa-harness report`): verdict, heat map, per-condition tables,
worst clips with frame strips, per-frame curves and distributions, every image embedded."""
