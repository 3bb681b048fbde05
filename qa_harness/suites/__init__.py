"""Suites: condition axes that tag clips and frames, and synthetic suites with controlled conditions."""
