"""Perturbations for synthetic suites: one file per condition axis, bound in `catalog.PERTURBATIONS`."""
