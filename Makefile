# The course's commands. On a fresh machine with Python 3.11, pip and make:
#   make lab    set everything up, start the local cloud and JupyterLab on notebooks/
#   make test   set everything up and run the linters and the whole test suite
# Every package is installed at the version pinned in requirements/lock.txt (`make lock` regenerates it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_STAMP := data/samples/.build-stamp.json
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_PORT ?= 8888
# Generated files (sample data, logs) go where the helpers put them: $COURSE_DATA_DIR, else data/.
DATA_DIR := $(or $(COURSE_DATA_DIR),data)
# The lock: every package, transitive ones included, for the runtime, all extras, pip and the build
# (requirements/tools.in), made by a pinned uv for Linux and CPython 3.11 (CI, Binder, the course's
# machines; on another OS pip still takes every version the two have in common from it).
LOCK := requirements/lock.txt
UV_VERSION := 0.13.9
UV_COMPILE := $(VENV)/bin/uv pip compile --python-platform linux --python-version 3.11 --quiet

.PHONY: help setup lock data cloud lab test lint browser site-tools napari check bench benchmarks book outdated clean distclean

help:
	@echo "make lab      set up, start the local cloud and JupyterLab on notebooks/"
	@echo "make test     set up, run linters and all tests (what CI runs)"
	@echo "make data     build the synthetic sample data into data/ (skipped when up to date)"
	@echo "make cloud    serve the local cloud in the foreground (Ctrl-C stops)"
	@echo "make napari   the skimage napari activity: a remote image, thresholded, in napari (ARGS=--help)"
	@echo "make check    measure the local cloud's latency and throughput"
	@echo "make bench    run the download benchmark (sequential vs parallel)"
	@echo "make benchmarks  all speed figures: cloud, download, browse, segment (python -m course_tools bench ...)"
	@echo "make book     build the course as a static HTML site in build/site/ (offline; Sphinx, myst-nb)"
	@echo "make site-tools  install mermaid-cli (npm) for the site's diagrams, and chromium"
	@echo "make outdated  the locked packages with a newer release on PyPI for Python 3.11 (needs the network)"
	@echo "make lock     regenerate requirements/lock.txt and the conda environment files from pyproject.toml"
	@echo "make clean    remove generated data and test artifacts (distclean: also .venv)"

# pip, uv and the build tools come from the lock too. pip installs uv, and uv installs the rest: the
# same pins as `pip install -c $(LOCK) --build-constraint $(LOCK) -e ".[test,napari,site]"`, downloaded and
# unpacked in parallel (about 1 min instead of 3 on 2 cores). Without uv that pip command does the same.
# --compile-bytecode does what pip does by default: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
# nothing else writes the .pyc files, and every kernel and worker would compile its imports again.
$(INSTALLED): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; run: make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(LOCK) pip uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -c $(LOCK) --build-constraints $(LOCK) -e ".[test,napari,site]"
	touch $@

setup: $(INSTALLED)

# Resolve pyproject.toml's pins and their dependencies into the lock (all extras),
# then write the runtime part into environment.yml and binder/environment.yml. Needs PyPI (not the tests).
# uv keeps the lock's versions of the packages pyproject.toml does not pin (the transitive ones) while they
# still fit; `make lock UPGRADE=1` moves them too, to the newest that fit (see `make outdated`).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) pyproject.toml requirements/tools.in --all-extras $(if $(UPGRADE),--upgrade) --custom-compile-command "make lock" -o $(LOCK)
	$(UV_COMPILE) pyproject.toml -c $(LOCK) --no-header --no-annotate | $(PY) requirements/conda_envs.py

# What `make lock` would move if pyproject.toml's pins were raised: every locked package whose PyPI has a
# newer final release for Python 3.11 (and, apart, the newer ones that need a newer Python). Needs PyPI.
outdated: setup
	$(PY) -m course_tools outdated

data: setup
	$(PY) -m course_tools samples build

cloud: data
	$(PY) -m course_tools cloud serve

# JupyterLab reads jupyter-config/ too (no news pop-up, no news or update checks on the internet, idle
# kernels culled); its log goes to $(DATA_DIR)/lab.log so that the URL to open is the last line printed.
# binder/start exports the session's settings, as on Binder; the course's .venv/bin comes first on the
# PATH, so `python -m ...` in a JupyterLab terminal is the course's Python.
lab: data
	@mkdir -p $(DATA_DIR); rm -f $(DATA_DIR)/cloud.log $(DATA_DIR)/lab.log; \
	. binder/start; export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	$(PY) -m course_tools cloud serve > $(DATA_DIR)/cloud.log 2>&1 & cloud=$$!; \
	trap 'kill $$lab $$cloud 2>/dev/null; wait $$lab $$cloud 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 600); do grep -q READY $(DATA_DIR)/cloud.log && break; \
	  kill -0 $$cloud 2>/dev/null || break; sleep 0.1; done; \
	if ! grep -q READY $(DATA_DIR)/cloud.log; then echo "The local cloud did not start; the end of $(DATA_DIR)/cloud.log:"; \
	  tail -n 15 $(DATA_DIR)/cloud.log; exit 1; fi; \
	head -n 4 $(DATA_DIR)/cloud.log; \
	echo "Starting JupyterLab on notebooks/ (its log: $(DATA_DIR)/lab.log)..."; \
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --notebook-dir=notebooks \
	  $(ROOT_FLAG) < /dev/null > $(DATA_DIR)/lab.log 2>&1 & lab=$$!; \
	url=; for i in $$(seq 1 1200); do \
	  url=$$(grep -o -m 1 'http://127\.0\.0\.1:[0-9]*/lab[^ ]*' $(DATA_DIR)/lab.log) && break; \
	  kill -0 $$lab 2>/dev/null || break; sleep 0.1; done; \
	if [ -z "$$url" ]; then echo "JupyterLab did not start; the end of $(DATA_DIR)/lab.log:"; \
	  tail -n 15 $(DATA_DIR)/lab.log; exit 1; fi; \
	echo "JupyterLab is running (Ctrl-C stops it and the local cloud). Open this URL in your browser:"; \
	echo "    $$url"; \
	wait $$lab

# Debian's Chromium for the real-browser test (installed where apt-get is available and we are root).
browser:
	@command -v chromium >/dev/null && command -v Xvfb >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium and Xvfb (OpenGL for headless napari) for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium xvfb >/dev/null; \
	  else echo "chromium or Xvfb not found and cannot be installed here: the browser and napari tests will fail under CI"; fi; }

# mermaid-cli, which draws the module page's concept map when the site is built (course_tools/site/mermaid.py),
# pinned with its dependencies in requirements/npm/package-lock.json and installed by npm ci into .venv/node.
# Its puppeteer drives Debian's chromium (make browser): its own browser download is skipped.
MMDC := $(VENV)/node/node_modules/.bin/mmdc
$(MMDC): requirements/npm/package.json requirements/npm/package-lock.json | $(INSTALLED)
	@command -v npm >/dev/null || { echo "npm is needed to install mermaid-cli for the site (Debian: apt-get install -y npm)"; exit 1; }
	mkdir -p $(VENV)/node
	cp requirements/npm/package.json requirements/npm/package-lock.json $(VENV)/node/
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix $(VENV)/node --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

site-tools: $(MMDC) browser

lint: setup
	$(VENV)/bin/ruff check helpers course_tools tests notebooks activities requirements
	$(VENV)/bin/ruff format --check helpers course_tools tests notebooks activities requirements
	$(VENV)/bin/mypy

test: setup browser site-tools data lint
	$(PY) -m pytest

# Activity "skimage napari" (activities/README.md); headless: make napari ARGS="--screenshot out.png".
napari: data
	$(PY) activities/napari_threshold.py $(ARGS)

check: setup
	$(PY) -m course_tools bench cloud

bench: setup
	$(PY) -m course_tools bench

benchmarks: data
	$(PY) -m course_tools bench cloud
	$(PY) -m course_tools bench download
	$(PY) -m course_tools bench browse
	$(PY) -m course_tools bench segment

# The course site (Sphinx, myst-nb, sphinx-book-theme; course_tools/site/), offline: the notebooks with the
# outputs of the last test run (test-artifacts/executed/, written by the notebooks' session in make test),
# executed once against the local cloud where there is no copy. Open build/site/index.html.
book: data site-tools
	$(PY) -m course_tools site build build/site --execute

clean:
	rm -rf data test-artifacts .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
