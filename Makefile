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

# KenLM's `lmplz` (CCNet's LM trainer, used by quality_models) and the perplexity filter's scorer
# (native/kenlm_score.cc linked against KenLM's libraries, loaded by pipelines/quality/native.py), built
# once from the kenlm sdist into .venv (~2-3 min on 2 cores). Needs a C++ compiler, cmake and Boost; on
# Debian, as root, the missing -dev packages are installed here. Without lmplz quality_models falls back
# to its numpy Kneser-Ney model; without the scorer the filter scores through the `kenlm` module (slower).
KENLM_DEBS := cmake g++ zlib1g-dev libbz2-dev liblzma-dev libboost-program-options-dev libboost-system-dev \
	libboost-thread-dev libboost-test-dev
# Before the venv: the kenlm Python module (a dependency) compiles against the same packages.
KENLM_APT = if [ ! -d /usr/include/boost/program_options ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(KENLM_DEBS); fi
# The scorer is compiled with the libraries' KENLM_MAX_ORDER: it sets the size of KenLM's State.
KENLM_SCORER := $(VENV)/lib/llama_kenlm.so
KENLM_SRC := $(VENV)/kenlm-build/kenlm-0.3.0
KENLM_LIBS := $(VENV)/kenlm-build/build/lib
$(BIN)/lmplz $(KENLM_SCORER) &: native/kenlm_score.cc | $(STAMP)
	$(KENLM_APT)
	rm -rf $(VENV)/kenlm-build && mkdir -p $(VENV)/kenlm-build
	$(BIN)/pip download --quiet --no-deps --no-binary kenlm --no-build-isolation 'kenlm==0.3.0' -d $(VENV)/kenlm-build
	tar -xzf $(VENV)/kenlm-build/kenlm-0.3.0.tar.gz -C $(VENV)/kenlm-build
	cmake -S $(KENLM_SRC) -B $(VENV)/kenlm-build/build -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 \
		-DCMAKE_POSITION_INDEPENDENT_CODE=ON >/dev/null
	$(MAKE) -C $(VENV)/kenlm-build/build -j2 lmplz >/dev/null
	cp $(VENV)/kenlm-build/build/bin/lmplz $(BIN)/lmplz
	$${CXX:-g++} -O3 -DNDEBUG -DKENLM_MAX_ORDER=6 -std=c++17 -fPIC -shared -I $(KENLM_SRC) native/kenlm_score.cc \
		-o $(KENLM_SCORER).tmp $(KENLM_LIBS)/libkenlm.a $(KENLM_LIBS)/libkenlm_util.a -lz -lbz2 -llzma -lpthread \
		-Wl,--exclude-libs,ALL
	mv $(KENLM_SCORER).tmp $(KENLM_SCORER)
	rm -rf $(VENV)/kenlm-build

install: $(STAMP) $(BIN)/lmplz $(KENLM_SCORER) $(DAGSTER_HOME)/dagster.yaml

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
