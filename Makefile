# Machine Learning for Particle Physics — the course's commands. `make help` lists them.
#
# Everything runs in a virtual environment in .venv, created on first use. PyTorch is installed
# first, pinned (torch==2.13.0), from TORCH_INDEX when given, so that nothing later pulls another build;
# then the course with the exact versions of constraints.txt (pyproject.toml holds compatible ranges;
# binder/ installs the same way).

SHELL := /bin/bash
# Python >= 3.11: the first of python3.11, python3.12, python3.13, python3 on PATH; `make PYTHON=/path/to/python3.11` chooses
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
CONSTRAINTS := constraints.txt
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

.PHONY: help install constraints check-install gpu-check peers bench-seeds book test lab check grade release data checkpoints system clean

help:  ## list the targets (learners: book, lab, check; instructors: release, grade; maintainers: test)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -n "$(PYTHON)" || { echo "No python3 found. Install Python 3.11 (see README.md, 'Platforms') and run make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else f"Python >= 3.11 is needed; $(PYTHON) is {sys.version.split()[0]}. macOS: brew install python@3.11 (or: uv python install 3.11), then make PYTHON=$$(brew --prefix)/bin/python3.11 ... (the first time); Linux: your distribution\x27s python3.11 package, or uv; see README.md, Platforms.")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned dependencies (constraints.txt)

constraints: $(STAMP)  # rewrite $(CONSTRAINTS) from the installed environment (after a change of pyproject.toml)
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/' \
	  | LC_ALL=C sort -f; } > constraints.txt.new && mv constraints.txt.new constraints.txt && echo "wrote constraints.txt"

check-install: $(STAMP)  ## install the course into a fresh venv from constraints.txt and import every module (about 2 min)
	$(BIN)/pytest -m install -p no:cacheprovider tests/test_package.py

gpu-check: $(STAMP)  ## on a machine with a GPU: GPU tests, timed retrains, the tagger benchmark -> _build/gpu-check/report.md
	$(BIN)/python -m hepcourse.bench.gpu_check

peers: $(STAMP)  ## install the peer libraries (PyG, energyflow, torchcfm, sbi, ...) and compare the course's code with them -> data/benchmarks/peers.csv, book/performance.md
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[peers]"
	$(BIN)/hepcourse bench peers

bench-seeds: $(STAMP)  ## three trainings of every chapter 01-04 tagger at detector and particle level (hours on one core; resumable: rerun to continue) -> data/benchmarks/ch04_taggers_seeds.csv
	OMP_NUM_THREADS=1 $(BIN)/hepcourse bench taggers --level detector particle --seed 0 1,2

book: $(STAMP)  ## build the website (full mode, lectures executed) into _build/html; SOLUTIONS=0: classroom site, no solutions, in _build/classroom
	$(BIN)/hepcourse site $(if $(filter 0,$(SOLUTIONS)),--no-solutions)

system:  ## what pip cannot install: Chromium (website tests), bubblewrap (grading sandbox); installs with apt as root, else says how
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	case "$$(uname -s)" in \
	  Darwin) echo "macOS: bubblewrap does not exist here (sandboxed grading needs Linux; learners do not need it)."; \
	          echo "  Website tests: brew install --cask chromium (optional; without it they are skipped).";; \
	  Linux) if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	           echo "installing from apt:$$missing"; \
	           apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	         elif command -v apt-get >/dev/null 2>&1; then echo "missing:$$missing: sudo apt-get install$$missing"; \
	         elif command -v dnf >/dev/null 2>&1; then echo "missing:$$missing: sudo dnf install$${missing/chromium/chromium}"; \
	         else echo "missing:$$missing: install them with your distribution's package manager"; fi; \
	         echo "  (without them the website tests are skipped and grading cannot be sandboxed)";; \
	  *) echo "missing:$$missing. On Windows, use WSL2 (Ubuntu) and run make there; see README.md, Platforms.";; \
	esac

test: $(STAMP) system  ## maintainers: the whole test suite in quick mode, what CI runs (the site build in _build/quick runs each lecture once)
	HEPCOURSE_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/pytest -n 2 --dist loadscope \
	  --timeout 900 --durations 25 tests

lab: $(STAMP)  ## open the course in JupyterLab (with nbgrader's formgrader and assignment list)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) $(ROOT_FLAG)

check: $(STAMP)  ## check your exercise with the hidden tests, as grading runs them: make check NB=workspace/ch01_classification.ipynb
	@test -n "$(NB)" || { echo "usage: make check NB=workspace/<assignment>.ipynb"; exit 2; }
	$(BIN)/hepcourse check $(NB)

# make grade: the options, documented once (book/instructor.md has the details)
#   A=ch01                 the assignment                 SUBMISSIONS=folder-or-zip   the class's notebooks
#   SOLUTIONS=dir          private copy of solutions/     JOBS=2                      notebooks graded at once
#   UPDATE=1               newer resubmissions replace filed ones (older ones are kept)
#   DUE=2026-03-02T23:59   due date (no zone: local time) ROSTER=roster.csv          course-system ids, zeros for non-submitters
#   WALL_S=180 CELL_S=30   time limits per notebook / per cell (defaults: hepcourse.grading.sandbox.Limits)
# Grading data go to grading/ (or $$HEPCOURSE_GRADING_DIR), where `make clean` never reaches.
grade: $(STAMP)  ## grade a class: make grade A=ch01 SUBMISSIONS=zip [SOLUTIONS= JOBS= DUE= ROSTER= UPDATE=1 WALL_S= CELL_S=]
	@test -n "$(A)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade A=ch01 SUBMISSIONS=<folder or zip> [SOLUTIONS=... JOBS=... DUE=... ROSTER=... UPDATE=1]"; exit 2; }
	$(BIN)/hepcourse grade collect $(A) $(SUBMISSIONS) $(if $(UPDATE),--update) $(if $(DUE),--due "$(DUE)")
	$(BIN)/hepcourse grade autograde $(A) --jobs $(or $(JOBS),2) $(if $(SOLUTIONS),--solutions $(SOLUTIONS)) \
	  $(if $(WALL_S),--wall-s $(WALL_S)) $(if $(CELL_S),--cell-s $(CELL_S))
	$(BIN)/hepcourse grade feedback $(A) $(if $(SOLUTIONS),--solutions $(SOLUTIONS))
	$(BIN)/hepcourse grade export $(A) $(if $(SOLUTIONS),--solutions $(SOLUTIONS)) $(if $(ROSTER),--roster $(ROSTER))

release: $(STAMP)  ## regenerate exercises/ from solutions/ (FORCE=1 to overwrite hand edits)
	$(BIN)/hepcourse release $(if $(FORCE),--force)

data: $(STAMP)  ## regenerate a data set into data/ (and data/MANIFEST): make data [NAME=jets-top-qcd EVENTS=25000 SEED=1 JOBS=1]
	$(BIN)/hepcourse data make $(or $(NAME),jets-top-qcd) $(if $(EVENTS),--events $(EVENTS)) $(if $(SEED),--seed $(SEED)) --jobs $(or $(JOBS),1)

checkpoints: $(STAMP)  ## retrain the lecture models (full mode) and rewrite data/checkpoints/ and data/MANIFEST
	@for nb in lectures/*/*.ipynb; do \
	  echo "$$nb"; HEPCOURSE_RETRAIN=1 $(BIN)/jupyter nbconvert --to notebook --execute --output-dir _build/checkpoints "$$nb" || exit 1; \
	done

clean:  ## remove builds and caches (keeps .venv, workspace/ and the grading data in grading/)
	@if [ -z "$(FORCE)" ] && find _build -name gradebook.db 2>/dev/null | grep -q .; then \
	  echo "refusing: _build/ holds a gradebook ($$(find _build -name gradebook.db | head -1)), a term's grades."; \
	  echo "Move it out first (mv _build/nbgrader grading), or make clean FORCE=1 to delete it."; exit 1; fi
	rm -rf _build .pytest_cache
