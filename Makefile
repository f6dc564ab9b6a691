# Quickstart: `make demo` (set up + rehearse the bundled demo backend) and `make test` (set up + whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup setup-system demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian chromium + chromedriver and the pinned Appium install (mobile flows, report checks in a real browser)
setup-system:
	bash scripts/setup_mobile.sh

demo: setup setup-system
	REHEARSE_DEMO_PASSWORD=$${REHEARSE_DEMO_PASSWORD:-rehearse-demo} $(BIN)/rehearse demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest

test: setup setup-system lint typecheck pytest

bench: setup setup-system
	command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	$(BIN)/python bench/run.py

clean:
	rm -rf reports/out .pytest_cache .mypy_cache .ruff_cache
