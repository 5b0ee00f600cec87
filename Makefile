# llama-pipeline: `make demo` sets everything up and materializes the whole graph; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster
export LLAMA_DATA_DIR ?= $(CURDIR)/data
export LLAMA_PROFILE ?= tiny

.PHONY: demo test ui ui-test install clean bench docs-figures

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: install
	$(BIN)/llama-pipeline demo

ui: install
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

# After `make demo`: docs/figures.md and the figures the README and docs quote, from data/reports.
docs-figures: install
	$(BIN)/llama-pipeline docs-figures $(LLAMA_DATA_DIR)

test: install
	$(BIN)/python -m pytest -q

# The browser test needs Debian's Chromium; it is skipped (with a message) without it, except in CI
# (.ci/run sets LLAMA_REQUIRE_CHROMIUM). LLAMA_UI_SCREENSHOTS=docs/screenshots keeps the pictures.
ui-test: install
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	LLAMA_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest -q tests/test_ui.py

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .dagster data
