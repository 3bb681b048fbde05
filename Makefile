# Two entry points for a fresh machine (see README): `make demo` and `make test`.
# torch is installed first and pinned through constraints.txt, so nothing can pull a CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: setup demo test lint clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[test,face]"
	touch $@

setup: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/qa-harness demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check qa_harness tests benchmarks
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) qa_runs .pytest_cache
