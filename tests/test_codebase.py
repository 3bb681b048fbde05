"""Codebase rules that keep it readable: small modules, no print in the library."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = sorted((REPO / "qa_harness").rglob("*.py"))
# The command-line front ends print by design: that is their output.
PRINTING_ALLOWED = {"cli.py", "compare_cli.py", "weights_cli.py", "demo.py", "summary.py"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_module_is_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(REPO)} has {lines} lines; split it by concept"


@pytest.mark.parametrize(
    "path", [p for p in LIBRARY if p.name not in PRINTING_ALLOWED], ids=lambda p: str(p.relative_to(REPO))
)
def test_library_does_not_print(path):
    calls = [
        n
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    assert not calls, f"{path.relative_to(REPO)}:{calls[0].lineno}: use logging, not print"


#: The only qa_harness modules the reference models may import: the foundation modules (errors, the
#: weight-folder convention), which import no other qa_harness module at import time. Everything else
#: (qa_harness.models adapters, metrics, the CLI) imports the reference models, never the reverse.
REFERENCE_MAY_IMPORT = {"qa_harness", "qa_harness.errors", "qa_harness.weights"}
REFERENCE = REPO / "qa_harness" / "reference_models"


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in a file, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", sorted(REFERENCE.rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_reference_models_import_one_way(path):
    wrong = [
        f"{path.relative_to(REPO)}:{line}: imports {module}"
        for line, module in _imported_modules(path)
        if module.split(".")[0] == "qa_harness"
        and not module.startswith("qa_harness.reference_models")
        and module not in REFERENCE_MAY_IMPORT
    ]
    assert not wrong, "qa_harness.reference_models must not import the rest of qa_harness: " + "; ".join(wrong)


@pytest.mark.parametrize("module", sorted(REFERENCE_MAY_IMPORT - {"qa_harness"}))
def test_foundation_modules_do_not_import_reference_models(module):
    path = REPO / (module.replace(".", "/") + ".py")
    wrong = [f"{line}: {name}" for line, name in _imported_modules(path) if name.startswith("qa_harness.reference")]
    assert not wrong, f"{path.relative_to(REPO)} imports the reference models ({wrong}): an import cycle"


def test_reference_models_load_without_the_rest_of_qa_harness():
    """Importing every reference-model module loads no qa_harness module beyond the allowed ones (a real import)."""
    modules = [".".join(p.relative_to(REPO).with_suffix("").parts) for p in sorted(REFERENCE.rglob("*.py"))]
    code = (
        "import sys; import "
        + ", ".join(m.removesuffix(".__init__") for m in modules)
        + "; print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'qa_harness'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout.split()
    assert "qa_harness.reference_models.mrfa.model" in out, out  # the import ran
    extra = {m for m in out if not m.startswith("qa_harness.reference_models")} - REFERENCE_MAY_IMPORT
    assert not extra, f"importing the reference models loaded {sorted(extra)}"


#: Registries whose `build` checks what an entry makes against a base class (catalog.py).
CHECKED_REGISTRIES = {"MODELS", "METRICS", "LANDMARKS", "IDENTITY", "AXES", "EXECUTORS", "PERTURBATIONS"}


@pytest.mark.parametrize("folder", ["qa_harness", "tests", "benchmarks"])
def test_registry_entries_are_built_through_the_check(folder):
    """`LANDMARKS.get(x)(...)` calls an entry past the base-class check; `LANDMARKS.build(x, ...)` does not."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            inner = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr == "get"
                and isinstance(inner.func.value, ast.Name)
                and inner.func.value.id in CHECKED_REGISTRIES
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, f"call {', '.join(found)} through Registry.build"


#: The stages that read runs (gate, compare, report): they take every number through `qa_harness.runs`.
READING_STAGES = sorted(
    [*(REPO / "qa_harness" / "gate").glob("*.py"), *(REPO / "qa_harness").glob("compare*.py")]
    + [*(REPO / "qa_harness" / "report").glob("*.py")]
)
#: Names that hold a `RunRecords` in those stages (`run.clips` is its per-pair table; a row's `clips` is a count).
RUN_NAMES = {"run", "candidate", "baseline", "reference"}


def _raw_reads(path: Path) -> list[str]:
    """Where a stage reads a run's tables itself: their files, their column layout, `.frames`, a run's `.clips`."""
    text = path.read_text()
    found = [f"{n + 1}: names a parquet file" for n, line in enumerate(text.splitlines()) if "parquet" in line]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module == "qa_harness.records":
            found.append(f"{node.lineno}: imports the records table layout (qa_harness.records)")
        elif isinstance(node, ast.Attribute) and (
            node.attr == "frames"
            or (node.attr == "clips" and isinstance(node.value, ast.Name) and node.value.id in RUN_NAMES)
        ):
            found.append(f"{node.lineno}: reads .{node.attr} of a run")
    return found


@pytest.mark.parametrize("path", READING_STAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_stages_read_runs_through_the_runs_layer(path):
    """Gate, compare and report are peers on `qa_harness.runs`: per-clip values, conditions, rankings and
    intervals come from there (one rule each), never from a stage's own reading of the frames tables."""
    assert path.exists() and READING_STAGES  # the globs found the stages
    found = _raw_reads(path)
    assert not found, f"{path.relative_to(REPO)}: " + "; ".join(found) + " (read it through qa_harness.runs)"


def test_the_raw_read_check_catches_each_kind_of_read(tmp_path):
    """The check above can fail: each kind of raw read in a module is found."""
    sample = tmp_path / "stage.py"
    sample.write_text(
        "from qa_harness.records import METRIC_PREFIX\n"
        "x = run.frames\n"
        "y = candidate.clips\n"
        "z = row.clips\n"
        "p = 'records/frames.parquet'\n"
    )
    assert sorted(int(f.split(":")[0]) for f in _raw_reads(sample)) == [1, 2, 3, 5]  # not row.clips
