# Reading the Source - KFOR in numbers. `make help` lists the targets.
# Every target builds .venv with pip from pyproject.toml (the test and hub extras) when it is missing, and runs
# with .venv/bin first on PATH: nbgrader calls `alembic` through PATH.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
STUDENTS ?= 40
# Jupyter refuses to start as root without --allow-root (containers, CI machines).
USER_ID ?= $(shell id -u)
COURSEKIT ?= coursekit
# coursekit grade/demo exit 3 when the class was graded but some hand-ins were refused or
# not graded (listed above it, and in rejected.csv / reasons.csv): a result, not a failure.
PARTIAL_OK = || { status=$$?; test $$status -eq 3 || exit $$status; \
	echo "note: some hand-ins were refused or not graded; see the lines above, rejected.csv and reasons.csv"; }
ALLOW_ROOT := $(if $(filter 0,$(USER_ID)),--allow-root)
# make hub: the local JupyterHub's port (the proxy's API and the hub itself take the next two)
HUB_PORT ?= 8000

.PHONY: help setup browser demo test test-fast test-browser lab hub build check bundle grade export report bench test-lowest lint tidy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test,hub]"
	@touch $@

setup: $(STAMP) ## create .venv and install the course (done by every target when needed)

demo: $(STAMP) ## build the student versions, autograde the sample class in build/demo/, print grades
	$(COURSEKIT) demo $(PARTIAL_OK)

browser: ## install Debian's chromium for the browser tests if missing (apt-get, as root)
	@tools/ensure-chromium

test: $(STAMP) browser ## run the whole test suite (what CI runs)
	python -m pytest -n auto --dist loadgroup

test-fast: $(STAMP) ## the tests that start no kernel
	python -m pytest -m "not slow"

test-browser: $(STAMP) browser ## JupyterLab in Chromium: lessons, Validate, formgrader (screenshots in build/screenshots/)
	python -m pytest -m browser

lab: $(STAMP) ## start JupyterLab on the course, with nbgrader's extensions
	jupyter lab $(ALLOW_ROOT) --notebook-dir=. lessons/00-getting-started.ipynb

hub: $(STAMP) ## a local JupyterHub for a class: instructor, students, nbgrader exchange (root; HUB_PORT=8000; docs/deploy.md)
	@test "$(USER_ID)" = 0 || { echo "make hub: run as root (sudo make hub): each student is a system user, as nbgrader's exchange needs (docs/deploy.md)" >&2; exit 1; }
	@python -c "import jupyterhub" 2>/dev/null || python -m pip install --quiet -e ".[hub]"
	python hub/prepare.py --check
	@. build/hub/state/passwords && printf '%s\n' "" \
	  "JupyterHub on http://127.0.0.1:$(HUB_PORT)  (Ctrl-C stops it; docs/deploy.md)" \
	  "  instructor: instructor / $$COURSEKIT_HUB_ADMIN_PASSWORD   (formgrader; the course folder)" \
	  "  students:   $${COURSEKIT_HUB_STUDENTS:-ada,bea,cai} / $$COURSEKIT_HUB_PASSWORD   (Assignments panel; their own home)" \
	  "  release:    COURSEKIT_EXCHANGE=build/hub/exchange nbgrader release_assignment 01-reading-the-source" \
	  "  grade:      coursekit grade --exchange, then coursekit release-feedback" ""
	COURSEKIT_HUB_PORT=$(HUB_PORT) jupyterhub -f hub/jupyterhub_config.py

build: $(STAMP) ## regenerate exercises/ from solutions/ (nbgrader generate_assignment)
	coursekit build

check: $(STAMP) ## the release gate: solutions full marks, blanks zero, wrong variants lose points
	coursekit check

bundle: $(STAMP) ## zip what students receive (build/kfor-in-numbers-student.zip)
	coursekit bundle

grade: $(STAMP) ## grade a folder of submissions: make grade SUBMISSIONS=path/to/folder
	@test -n "$${SUBMISSIONS:-}" || { echo "usage: make grade SUBMISSIONS=path/to/folder" >&2; exit 2; }
	$(COURSEKIT) grade "$(SUBMISSIONS)" $(PARTIAL_OK)

export: $(STAMP) ## grades for an LMS: make export TO=canvas|moodle|csv FILE=build/canvas.csv [ROSTER=class.csv]
	@test -n "$${TO:-}" -a -n "$${FILE:-}" || { echo "usage: make export TO=canvas|moodle|csv FILE=build/canvas.csv [ROSTER=class.csv]" >&2; exit 2; }
	$(COURSEKIT) export --to "$(TO)" "$(FILE)" $(if $(ROSTER),--roster "$(ROSTER)")

report: $(STAMP) ## grade distribution and item analysis of the last grading run (build/report/)
	coursekit report

bench: $(STAMP) ## stock nbgrader vs coursekit grade on a generated class of $(STUDENTS) students
	python benchmarks/bench_grading.py --students $(STUDENTS)

test-lowest: ## the tests against the oldest release of every dependency (.venv-lowest)
	@test -x .venv-lowest/bin/python || $(PYTHON) -m venv .venv-lowest
	.venv-lowest/bin/python -m pip install --quiet --upgrade pip packaging
	@mkdir -p build
	.venv-lowest/bin/python tools/lowest_requirements.py > build/lowest-requirements.txt
	.venv-lowest/bin/python -m pip install --quiet -r build/lowest-requirements.txt
	.venv-lowest/bin/python -m pip install --quiet --no-deps -e .
	PATH=$(CURDIR)/.venv-lowest/bin:$$PATH .venv-lowest/bin/python -m pytest -m "not slow" tests
	PATH=$(CURDIR)/.venv-lowest/bin:$$PATH .venv-lowest/bin/python -m pytest tests/grader/test_pipeline.py tests/test_lessons.py

lint: $(STAMP) ## ruff on code and notebooks
	ruff check src tests hub benchmarks tools lessons solutions exercises

tidy: $(STAMP) ## strip outputs and normalise every committed notebook
	coursekit tidy $$(git ls-files '*.ipynb')

clean: ## remove build/ (grades, feedback, gradebook); keeps .venv
	rm -rf build
