"""Codebase rules that keep it readable: small modules, no print in the library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = sorted((REPO / "qa_harness").rglob("*.py")) + sorted((REPO / "reference_models").rglob("*.py"))
# The command-line front ends print by design: that is their output.
PRINTING_ALLOWED = {"cli.py", "compare_cli.py", "weights_cli.py", "demo.py", "summary.py"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_module_is_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(REPO)} has {lines} lines; split it by concept"


@pytest.mark.parametrize("path", [p for p in LIBRARY if p.name not in PRINTING_ALLOWED],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_library_does_not_print(path):
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not calls, f"{path.relative_to(REPO)}:{calls[0].lineno}: use logging, not print"
