"""qa_harness: evaluation and release quality gate for face-animation models."""

__version__ = "0.1.0"
