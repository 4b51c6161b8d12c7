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
	$(BIN)/python -m bookkit.report  # and the code map (bookkit.codemap)

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

# make test, in three phases (times in _build/reports/make-test-times.txt):
#  1. install into .venv; meanwhile (network only) Chromium, axe-core and the site's vendored assets;
#  2. the first execution of the chapters, alone on the cores, so its per-chapter budgets are honest;
#  3. in parallel: the determinism check (every chapter re-executed in a fresh kernel, its text compared
#     with the first execution), the unit tests, then the strict Sphinx build and the book tests
#     (one at a time: JupyterLab under -n 2 and a loaded machine lost its Run All click).
# Each phase line gives the wall time and the CPU time the whole machine spent since the start (from
# /proc/stat; on a dedicated machine that is this run's), i.e. how close the run is to the cores' floor.
TEST_TIMES := _build/reports/make-test-times.txt
test:
	@mkdir -p _build/reports; t0=$$(date +%s); : >$(TEST_TIMES); \
	busy() { awk '/^cpu /{print int(($$2 + $$3 + $$4 + $$7 + $$8) / 100)}' /proc/stat; }; c0=$$(busy); \
	phase() { echo "$$1: $$(( $$(date +%s) - t0 )) s after start, machine busy $$(( $$(busy) - c0 )) CPU-s" \
	  | tee -a $(TEST_TIMES); }; \
	$(MAKE) --no-print-directory chromium $(AXE) assets >_build/reports/browser-setup.log 2>&1 & setup=$$!; \
	$(MAKE) --no-print-directory install || exit 1; phase "install"; \
	$(MAKE) --no-print-directory execute || exit 1; phase "first execution"; \
	$(BIN)/python -m bookkit.execute --jobs $(JOBS) --determinism >_build/reports/determinism.log 2>&1 & det=$$!; \
	$(BIN)/python -m pytest -q -m "not book" --durations=8 tests >_build/reports/unit.log 2>&1 & unit=$$!; \
	wait $$setup || { cat _build/reports/browser-setup.log; exit 1; }; phase "browser set-up (in background)"; \
	$(MAKE) --no-print-directory html; status=$$?; phase "strict Sphinx build"; \
	if [ $$status = 0 ]; then $(BIN)/python -m pytest -q -m book --durations=10 tests; status=$$?; fi; \
	phase "book tests"; \
	wait $$unit; ustatus=$$?; tail -n 40 _build/reports/unit.log; phase "unit tests (in background)"; \
	wait $$det; dstatus=$$?; tail -n 200 _build/reports/determinism.log; phase "determinism (in background)"; \
	cat $(TEST_TIMES); \
	exit $$(( status || ustatus || dstatus ))

bench: install assets
	$(BIN)/python -m bookkit.bench

clean:
	rm -rf _build appendix/build-report.md
