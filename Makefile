# Runnable ML Notes. Two commands do everything on a fresh machine:
#   make book   create .venv, install, execute every chapter, build _build/html
#   make test   the same install, then unit tests, notebook checks, strict build, browser tests
SHELL := /bin/bash
.DEFAULT_GOAL := book
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
# Kernels started by the build and tests run strictly (warnings are errors, network cut).
export IPYTHONDIR := $(CURDIR)/tools/ipython
export MLNOTES_STATIC_EXPLORERS := 1
export MLNOTES_OFFLINE := 1
export PYTHONHASHSEED := 0
export OMP_NUM_THREADS := 1
# The book tooling (executor, contract checker, report, bench, Sphinx fixes) is not installed; this checkout's
# src comes first, so a clone that borrows another checkout's .venv still runs its own mlnotes.
export PYTHONPATH := $(CURDIR)/tools:$(CURDIR)/src

.PHONY: check book test install assets execute report html unit contract gates browser bench clean chromium

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	@# A clone that borrows another checkout's .venv (a symlink) must not reinstall mlnotes into it.
	@if [ -L $(VENV) ]; then echo "$(VENV) is borrowed (a symlink): not installing into it"; else \
	  set -ex; test -d $(VENV) || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --quiet --upgrade pip; \
	  $(BIN)/pip uninstall --quiet -y mlnotes 2>/dev/null || true; \
	  $(BIN)/pip install --quiet -e ".[dev]" -c constraints.txt; \
	  $(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null; \
	  touch $@; fi

install: $(STAMP)

assets/vendor/.done: tools/fetch-assets.sh
	./tools/fetch-assets.sh assets/vendor
	touch $@

assets: assets/vendor/.done

# axe-core for the accessibility test (not part of the site).
AXE := node_modules/axe-core/axe.min.js
$(AXE): tools/fetch-assets.sh
	./tools/fetch-assets.sh --axe $(dir $(AXE))

# Execute into the cache, in parallel, the chapters without an execution valid for today's code: a chapter
# re-executes when its notebook, a src/mlnotes module its kernel imported, or pyproject.toml changed.
execute: install
	$(BIN)/python -m bookkit.execute --jobs $(JOBS)

report: execute
	$(BIN)/python -m bookkit.report
	$(BIN)/python -m bookkit.codemap

html: report assets
	$(BIN)/jupyter-book build . -W -n --keep-going --quiet
	@echo "Open $(CURDIR)/_build/html/index.html"

book: html

# One or more chapters, strictly, without touching the build cache: make check CH="chapters/a/b.ipynb ..."
check: install
	$(BIN)/python -m bookkit.check $(CH)

unit: install
	$(BIN)/python -m pytest -q -n $(JOBS) -m "not book" --durations=8 tests

# Everything that needs the built book: gates on metrics, page weight, determinism, browser.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# The determinism check re-executes every chapter in fresh kernels and compares the text with the first
# execution; it runs in the background while the (mostly single-core) Sphinx build and book tests run.
test: unit execute chromium $(AXE)
	@mkdir -p _build/reports
	@start=$$(date +%s); \
	$(BIN)/python -m bookkit.execute --jobs $(JOBS) --determinism >_build/reports/determinism.log 2>&1 & det=$$!; \
	$(MAKE) --no-print-directory html && $(BIN)/python -m pytest -q -m book tests; status=$$?; \
	echo "html + book tests: $$(( $$(date +%s) - start )) s; waiting for the determinism re-execution"; \
	wait $$det; dstatus=$$?; tail -n 200 _build/reports/determinism.log; \
	echo "determinism finished after $$(( $$(date +%s) - start )) s"; \
	exit $$(( status || dstatus ))

bench: install assets
	$(BIN)/python -m bookkit.bench

clean:
	rm -rf _build appendix/build-report.md
