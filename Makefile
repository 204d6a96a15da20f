# The course's commands. On a fresh machine with Python 3.11, pip and make:
#   make lab    set everything up, start the local cloud and JupyterLab on notebooks/
#   make test   set everything up and run the linters and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_STAMP := data/samples/.build-stamp.json
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_PORT ?= 8888

.PHONY: help setup data cloud lab test lint browser check bench benchmarks clean distclean

help:
	@echo "make lab      set up, start the local cloud and JupyterLab on notebooks/"
	@echo "make test     set up, run linters and all tests (what CI runs)"
	@echo "make data     build the synthetic sample data into data/ (skipped when up to date)"
	@echo "make cloud    serve the local cloud in the foreground (Ctrl-C stops)"
	@echo "make check    measure the local cloud's latency and throughput"
	@echo "make bench    run the download benchmark (sequential vs parallel)"
	@echo "make benchmarks  all speed figures: cloud, download, browse, segment (python -m helpers.bench ...)"
	@echo "make clean    remove generated data and test artifacts (distclean: also .venv)"

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; run: make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(INSTALLED)

data: setup
	$(PY) -m helpers.samples build

cloud: data
	$(PY) -m helpers.cloud serve

lab: data
	@$(PY) -m helpers.cloud serve > data/cloud.log 2>&1 & cloud=$$!; \
	trap 'kill $$cloud 2>/dev/null; wait $$cloud 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 100); do grep -q READY data/cloud.log && break; sleep 0.1; done; \
	head -n 4 data/cloud.log; \
	echo "Starting JupyterLab: open the http://127.0.0.1:$(LAB_PORT)/lab?token=... URL it prints below."; \
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --notebook-dir=notebooks $(ROOT_FLAG)

# Debian's Chromium for the real-browser test (installed where apt-get is available and we are root).
browser:
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser test..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and cannot be installed here: the browser test will fail under CI"; fi; }

lint: setup
	$(VENV)/bin/ruff check helpers tests notebooks
	$(VENV)/bin/ruff format --check helpers tests notebooks
	$(VENV)/bin/mypy

test: setup browser data lint
	$(PY) -m pytest

check: setup
	$(PY) -m helpers.cloud check

bench: setup
	$(PY) -m helpers.bench

benchmarks: data
	$(PY) -m helpers.bench cloud
	$(PY) -m helpers.bench download
	$(PY) -m helpers.bench browse
	$(PY) -m helpers.bench segment

clean:
	rm -rf data test-artifacts .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
