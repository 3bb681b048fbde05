"""Shared test helpers (reference-side code that the product must not need)."""
