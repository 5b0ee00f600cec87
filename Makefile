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
	$(KENLM_APT)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

# KenLM's `lmplz` (CCNet's LM trainer, used by quality_models), built once from the kenlm sdist into
# .venv/bin (~3 min on 2 cores). Needs a C++ compiler, cmake and Boost; on Debian, as root, the missing
# -dev packages are installed here. Without it quality_models falls back to its numpy Kneser-Ney model.
KENLM_DEBS := cmake g++ zlib1g-dev libbz2-dev liblzma-dev libboost-program-options-dev libboost-system-dev \
	libboost-thread-dev libboost-test-dev
# Before the venv: the kenlm Python module (a dependency) compiles against the same packages.
KENLM_APT = if [ ! -d /usr/include/boost/program_options ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(KENLM_DEBS); fi
$(BIN)/lmplz: | $(STAMP)
	$(KENLM_APT)
	rm -rf $(VENV)/kenlm-build && mkdir -p $(VENV)/kenlm-build
	$(BIN)/pip download --quiet --no-deps --no-binary kenlm --no-build-isolation 'kenlm==0.3.0' -d $(VENV)/kenlm-build
	tar -xzf $(VENV)/kenlm-build/kenlm-0.3.0.tar.gz -C $(VENV)/kenlm-build
	cmake -S $(VENV)/kenlm-build/kenlm-0.3.0 -B $(VENV)/kenlm-build/build -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 >/dev/null
	$(MAKE) -C $(VENV)/kenlm-build/build -j2 lmplz >/dev/null
	cp $(VENV)/kenlm-build/build/bin/lmplz $@
	rm -rf $(VENV)/kenlm-build

install: $(STAMP) $(BIN)/lmplz $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: install
	$(BIN)/llama-pipeline demo

# dg dev on workspace.yaml: the location llama_pipeline, as [tool.dg] names it (plain `dg dev` shows the same
# schedule and sensor state); -w keeps the origin the `dagster schedule ... -w workspace.yaml` commands see.
ui: install
	$(BIN)/dg dev -w workspace.yaml -h 127.0.0.1 -p 3000

# After `make demo`: docs/figures.md and the figures the README and docs quote, from data/reports.
docs-figures: install
	$(BIN)/llama-pipeline docs-figures $(LLAMA_DATA_DIR)

# Lint (ruff: pyflakes, import order, bugbear) and the import contracts (.importlinter: the libraries
# never import each other nor Dagster, no cycles) before the tests.
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
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
