# gazelib: the one place for set-up, data, tests, lessons and reproduction.
# `make help` lists the targets.

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
# CPU build by default (the smaller download; lessons and tests need no GPU). On a GPU machine choose a CUDA build, e.g.
#   make setup TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu130
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
# Local copy of the data laid out like ../shared/data; `make data` copies from it instead of downloading.
GAZELIB_MIRROR ?= $(abspath $(wildcard ../shared/data))
export GAZELIB_MIRROR

.DEFAULT_GOAL := help
.PHONY: help setup test data lab

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(VENV)/.installed  ## create .venv with pip and install gazelib with every extra

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[notebooks,test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

test: setup browser  ## THE test command: install what is needed, then run every test (notebooks under the smoke profile)
	$(BIN)/python -m pytest

.PHONY: flake-check
flake-check: setup  ## every lesson check cell 300x and the unit tests 5x, seeds and 1/2 threads varied (~20 min; results/flakes/)
	$(BIN)/python tools/flake_check.py

data: setup  ## fetch Kvasir-SEG and the GazeMedSeg fixations into GAZELIB_DATA (default ./data), from the mirror if set
	$(BIN)/gazelib data fetch

DATASET ?= kvasir
.PHONY: gaze-cache
gaze-cache: setup  ## every gaze map of DATASET (kvasir | nci_isbi) computed once: it prints its estimate first (lessons do not need it)
	$(BIN)/gazelib gaze cache --dataset $(DATASET)

# Extra JupyterLab options, e.g. make lab LAB_OPTS="--no-browser --port 8889"; as root --allow-root is added.
LAB_OPTS ?=
lab: setup  ## JupyterLab at the repository root (lessons in notebooks/, outputs in results/ and figures/)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_OPTS)

NOTEBOOK_SOURCES := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
PROFILE ?= paper
# Empty: the CLI's default per profile (three seeds for paper, one for quick/smoke); e.g. SEEDS="0 1 2".
SEEDS   ?=
DEVICE  ?= auto
# Empty: $GAZELIB_ENGINE or serial; e.g. ENGINE=local:2 trains two runs at once (gazelib/experiments/engines.py).
ENGINE  ?=
# Empty: every lesson; e.g. ONLY="02 04" runs lessons 02 and 04 only.
ONLY    ?=
.PHONY: notebooks reproduce figures

notebooks: setup  ## rebuild the .ipynb pairs from the percent .py sources (no outputs)
	$(BIN)/jupytext --sync $(NOTEBOOK_SOURCES)

.PHONY: exercises
exercises: setup  ## workshop notebooks (blanks with hints, solutions) from lessons 01-05 and a teacher's page with their times (notebooks/exercises/)
	$(BIN)/python -m gazelib.ops.exercises

reproduce: setup  ## papermill every notebook (PROFILE=paper|laptop|quick|smoke, SEEDS, DEVICE, ENGINE, ONLY); resumes where it stopped
	$(BIN)/gazelib reproduce --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS)) --device $(DEVICE) $(if $(ENGINE),--engine $(ENGINE)) $(if $(ONLY),--only $(ONLY))

figures: setup  ## rebuild every table and figure from the existing run records, without training (default: the profile with most records)
	$(BIN)/gazelib figures $(if $(filter command line environment,$(origin PROFILE)),--profile $(PROFILE)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(ONLY),--only $(ONLY))

.PHONY: bench
bench: setup  ## speed of every method at the paper and quick settings, and the authors'-style reference (results/bench/)
	$(BIN)/gazelib bench --device $(DEVICE)

BOOK_PROFILE ?= laptop
.PHONY: book book-check browser

book: setup  ## the lessons executed from the run records (BOOK_PROFILE=laptop|quick|paper|smoke) and their results as an offline HTML site in _build/book/html
	$(BIN)/gazelib book --profile $(BOOK_PROFILE)

book-check: setup browser  ## read every page of the built book in headless Chromium (executes nothing); screenshots to results/book/
	$(BIN)/gazelib book --check --screenshots results/book

browser:  ## Debian's Chromium for the book's browser test (installed with apt-get when missing and running as root)
	@command -v chromium > /dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq chromium > /dev/null) || echo "could not install chromium"; \
	  else echo "chromium is missing (install Debian's chromium as root): the browser test skips, or fails under CI=true"; fi; }
