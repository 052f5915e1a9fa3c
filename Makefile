# Machine Learning for Particle Physics — the course's commands. `make help` lists them.
#
# Everything runs in a virtual environment in .venv, created on first use. PyTorch is installed
# first, pinned (torch==2.13.0), from TORCH_INDEX when given, so that nothing later pulls another build;
# then the course with the exact versions of constraints.txt (pyproject.toml holds compatible ranges).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Optional PyTorch wheel index: on a Linux laptop without an NVIDIA GPU, pass the CPU index of
# pytorch.org here to avoid gigabytes of CUDA libraries (see book/student.md).
TORCH_INDEX ?=
ifndef HEPCOURSE_TEST_START
export HEPCOURSE_TEST_START := $(shell date +%s)
endif
# OpenMP threads of XGBoost/scikit-learn spin while waiting; on 2 shared cores that costs minutes
export OMP_WAIT_POLICY ?= PASSIVE
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# nbgrader runs helper commands (alembic) by name: the environment's scripts must be on PATH
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help install constraints check-install gpu-check book test lab check grade release data checkpoints system clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; found " + sys.version)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned dependencies (constraints.txt)

constraints: $(STAMP)  # rewrite constraints.txt from the installed environment (after a change of pyproject.toml)
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/' \
	  | LC_ALL=C sort -f; } > constraints.txt.new && mv constraints.txt.new constraints.txt && echo "wrote constraints.txt"

check-install: $(STAMP)  ## install the course into a fresh venv from constraints.txt and import every module (about 2 min)
	$(BIN)/pytest -m install -p no:cacheprovider tests/test_package.py

gpu-check: $(STAMP)  ## on a machine with a GPU: GPU tests, timed retrains, the tagger benchmark -> _build/gpu-check/report.md
	$(BIN)/python -m hepcourse.bench.gpu_check

book: $(STAMP)  ## build the website (full mode, lectures executed) into _build/html; SOLUTIONS=0: no solutions
	$(BIN)/hepcourse site $(if $(filter 0,$(SOLUTIONS)),--no-solutions)

system:  # what pip cannot install: Chromium (site tests) and bubblewrap (grading sandbox), from apt as root
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing from apt:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (sudo apt-get install$$missing); without them the website tests are skipped and grading is not sandboxed"; fi; \
	fi

test: $(STAMP) system  ## run the whole test suite in quick mode (the site build in _build/quick runs each lecture once)
	HEPCOURSE_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/pytest -n 2 --dist loadscope \
	  --timeout 900 --durations 25 tests

lab: $(STAMP)  ## open the course in JupyterLab (with nbgrader's formgrader and assignment list)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) $(ROOT_FLAG)

check: $(STAMP)  ## check your exercise with the hidden tests: make check NB=workspace/ch01_classification.ipynb
	@test -n "$(NB)" || { echo "usage: make check NB=workspace/<assignment>.ipynb"; exit 2; }
	$(BIN)/hepcourse check $(NB)

grade: $(STAMP)  ## grade a class: make grade A=ch01 SUBMISSIONS=folder-or-zip (collect, autograde, feedback, export)
	@test -n "$(A)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade A=ch01 SUBMISSIONS=<folder or zip>"; exit 2; }
	$(BIN)/hepcourse grade collect $(A) $(SUBMISSIONS)
	$(BIN)/hepcourse grade autograde $(A)
	$(BIN)/hepcourse grade feedback $(A)
	$(BIN)/hepcourse grade export $(A)

release: $(STAMP)  ## regenerate exercises/ from solutions/ (FORCE=1 to overwrite hand edits)
	$(BIN)/hepcourse release $(if $(FORCE),--force)

data: $(STAMP)  ## regenerate a data set into data/ (and data/MANIFEST): make data [NAME=jets-top-qcd EVENTS=25000 SEED=1 JOBS=1]
	$(BIN)/hepcourse data make $(or $(NAME),jets-top-qcd) $(if $(EVENTS),--events $(EVENTS)) $(if $(SEED),--seed $(SEED)) --jobs $(or $(JOBS),1)

checkpoints: $(STAMP)  ## retrain the lecture models (full mode) and rewrite data/checkpoints/ and data/MANIFEST
	@for nb in lectures/*/*.ipynb; do \
	  echo "$$nb"; HEPCOURSE_RETRAIN=1 $(BIN)/jupyter nbconvert --to notebook --execute --output-dir _build/checkpoints "$$nb" || exit 1; \
	done

clean:  ## remove builds, gradebooks and caches (keeps .venv and workspace/)
	rm -rf _build .pytest_cache
