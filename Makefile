# Machine Learning for Particle Physics — the course's commands. `make help` lists them.
#
# Everything runs in a virtual environment in .venv, created on first use. PyTorch is installed
# first and pinned (torch==2.13.0) so that Linux gets its CPU wheel, not gigabytes of CUDA.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOLUTIONS ?= 1
export HEPCOURSE_TEST_START ?= $(shell date +%s)

.PHONY: help install book test lab release browser clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; found " + sys.version)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned dependencies

book: $(STAMP)  ## build the website (full mode, every lecture executed) into _build/html
	$(BIN)/jupyter-book build . -W --keep-going
	@echo "The course website: file://$(CURDIR)/_build/html/index.html"

browser:  # Chromium for the site tests: installed from apt when we are root and it is missing
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium from apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: the website tests will be skipped (install it: sudo apt-get install chromium)"; fi; \
	fi

test: $(STAMP) browser  ## run the whole test suite in quick mode (site build in _build/quick)
	HEPCOURSE_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/pytest -n 2 --dist loadscope --nbval-lax \
	  --timeout 900 --durations 25 tests lectures

lab: $(STAMP)  ## open the course in JupyterLab (with nbgrader's formgrader and assignment list)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR)

release: $(STAMP)  ## regenerate exercises/ from solutions/ (FORCE=1 to overwrite hand edits)
	$(BIN)/hepcourse release $(if $(FORCE),--force)

clean:  ## remove builds, gradebooks and caches (keeps .venv and workspace/)
	rm -rf _build .pytest_cache
