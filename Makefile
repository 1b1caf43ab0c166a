# mlqa-debug: `make run` opens the dashboard, `make test` runs every check.
# Both create .venv and install the pinned dependencies (constraints.txt) first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKSPACE ?= .workspace
PORT ?= 8501
# ADDRESS=0.0.0.0 lets anyone who reaches the port upload, edit cases and run long
# jobs: put an authenticating proxy in front first (README, "Serving a team").
ADDRESS ?= localhost

.PHONY: install install-test browser java run test lint typecheck unit e2e samples bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PY) -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests, unless a Chromium is already there.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1

# Debian's Java runtime for the Spark engine and its tests, unless a java is already there.
java:
	@command -v java >/dev/null 2>&1 || \
	  { echo "installing Debian's default-jre-headless"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq default-jre-headless >/dev/null; }
	@command -v java >/dev/null 2>&1

run: install
	$(VENV)/bin/mlqa-debug app --workspace $(WORKSPACE) --port $(PORT) --address $(ADDRESS)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-test
	$(VENV)/bin/mypy

unit: install-test
	$(PY) -m pytest -m "not e2e and not spark"

e2e: install-test browser
	$(PY) -m pytest -m e2e

test: install-test browser java lint typecheck
	MLQA_REQUIRE_BROWSER=1 $(PY) -m pytest

samples: install
	$(PY) sample_data/make_samples.py

bench: install-test
	$(PY) benchmarks/bench_load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts benchmarks/out
