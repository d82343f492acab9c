# yzmon — `make help`
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup run test lint soak clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install yzmon with its dev tools

run: $(STAMP)  ## the main job: embedded stack + live simulated feeds + live summary (Ctrl-C stops)
	$(BIN)/yzmon run

test: $(STAMP)  ## lint, then the default test suite (unit, engine and end-to-end tests)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

soak: $(STAMP)  ## 10-minute soak of the worker on the embedded broker
	$(BIN)/pytest -m soak -s tests/test_soak.py

clean:  ## remove the venv and local state
	rm -rf $(VENV) .yzmon
