# yzmon — `make help`
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes for `make test`: the suite waits on stacks as much as it computes
WORKERS ?= 4
SOURCES := benchmarks producers readpath schemas simulators streams tests yzcore yzmon

.PHONY: help setup browser run test lint soak clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# uv installs the dependencies in seconds (pip: about 40 s); pip remains the fallback where uv cannot be had.
# Bytecode is compiled at install, as pip does: uv does not by default, and where PYTHONDONTWRITEBYTECODE is
# set every process (each CLI call, worker and migration) would compile its imports again, 1-2 CPU-s each.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]" \
	  || $(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install yzmon with its dev tools

browser:  ## Debian's chromium and CJK fonts, for the briefing test (installed when missing)
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk" || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

run: $(STAMP)  ## the main job: embedded stack + live simulated feeds + live summary (Ctrl-C stops)
	$(BIN)/yzmon run

test: $(STAMP) browser  ## lint, format check, layer contract, then the default test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m compileall -q $(SOURCES)  # the suite starts hundreds of processes; each reuses the bytecode
	$(BIN)/pytest -n $(WORKERS)

lint: $(STAMP)  ## ruff (lint and format) and the layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

soak: $(STAMP)  ## soak of the worker on the embedded broker (YZMON_SOAK_MINUTES, default 10)
	$(BIN)/pytest -m soak -s tests/test_soak.py

clean:  ## remove the venv and local state
	rm -rf $(VENV) .yzmon
