"""Every registered metric is documented as a metric card, and the cards' examples run (doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

from qa_harness.catalog import METRICS

#: The module of each registered metric's builder (lazy registry entries resolved, nothing built; a variant
#: with options is a partial of its module's builder).
MODULES = sorted({getattr(builder, "func", builder).__module__ for builder in map(METRICS.get, METRICS.names())})
#: What a card states (see the `metrics/` module docstrings).
FIELDS = ("Metric card", "Range", "Failure modes")


@pytest.mark.parametrize("module", MODULES)
def test_every_metric_module_has_a_metric_card(module: str) -> None:
    doc = importlib.import_module(module).__doc__ or ""
    missing = [field for field in FIELDS if field not in doc]
    assert not missing, f"{module}: its docstring lacks {missing} (what, range, direction, reference, failure modes)"


@pytest.mark.parametrize("module", [*MODULES, "qa_harness.metrics.face_events"])
def test_card_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} doctest examples failed"


def test_cards_carry_examples() -> None:
    attempted = sum(doctest.testmod(importlib.import_module(m)).attempted for m in MODULES)
    assert attempted >= 6  # l1, psnr, ssim, ear_mar (2), ...: a card without one should be the exception
