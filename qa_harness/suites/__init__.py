"""Suites: versioned manifests of clips and pairs (`manifest.py`) and how they are hashed; condition
axes that tag clips and frames (`axes/`), and synthetic suites with controlled conditions
(`synthetic.py`)."""
