# Two entry points for newcomers (see README): `make example` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: example test lint unit browser binaries clusters-up clusters-down bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Install and plan evictions for the bundled example snapshot (no cluster needed).
example: $(BIN)/.installed
	$(BIN)/tensile-deschedule --dry-run --snapshot examples/snapshot.yaml --policy-config-file examples/policy.yaml

## Build the control-plane binaries (cached in ~/.cache/tensile/bin, or $$TENSILE_BIN_CACHE).
binaries:
	$(PYTHON) tests/cluster/binaries.py

## Headless Chromium from Debian for the HTML report's browser test (Playwright drives it; it downloads none).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Everything CI runs: install, Chromium, build binaries, lint, type-check, all tests on real clusters.
test: $(BIN)/.installed browser binaries lint
	$(BIN)/pytest

## Every pure test of both packages (no cluster, no network; Chromium for the HTML report): under a minute.
unit: $(BIN)/.installed browser
	$(BIN)/pytest tests/descheduler tests/provider tests/test_*.py

clusters-up: $(BIN)/.installed binaries
	$(BIN)/python tests/cluster/devclusters.py up

clusters-down:
	$(BIN)/python tests/cluster/devclusters.py down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
