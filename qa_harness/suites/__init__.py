"""Suites: versioned manifests of clips and pairs (`manifest.py`), and how they are hashed."""
