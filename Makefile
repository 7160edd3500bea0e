# The two commands of the README:
#   make book   execute every notebook once and build the book from that run into _build/html
#   make test   run every test: unit tests, nbval over every notebook (which executes each
#               notebook once and keeps that run), the book built from nbval's run with -W,
#               and the browser test
# Both create .venv and install the pinned dependencies when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed

# Where the corpora are: $RNNCOURSE_DATA_DIR if set, else ../shared/data beside the
# checkout when it exists (the course machines and CI), else the repo's data/ folder.
RNNCOURSE_DATA_DIR ?= $(if $(wildcard ../shared/data/timemachine.txt),$(abspath ../shared/data),$(abspath data))
export RNNCOURSE_DATA_DIR
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export TQDM_DISABLE := 1

.PHONY: book test browser-test unit nbval notebooks benchmark install constraints clean gpu-test gpu-torch homework grade

# The GPU check (tools/gpu_test.sh; README "Running on a GPU"). TORCH_CUDA is the one place
# that names the CUDA build: `make gpu-torch` installs torch==$(TORCH_VERSION)+$(TORCH_CUDA)
# from PyTorch's wheel index into the venv (the version is requirements.txt's pin, which
# stays the CPU build's); `make gpu-test` runs it first on a GPU machine whose venv has the
# CPU build. Pick the tag your driver supports (pytorch.org, "Get started"):
#   TORCH_CUDA=cu126 make gpu-test
TORCH_CUDA    ?= cu128
TORCH_VERSION := $(shell sed -n 's/^torch==\([0-9][0-9.]*\).*/\1/p' requirements.txt)
TORCH_INDEX   := https://download.pytorch.org/whl/$(TORCH_CUDA)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# Each notebook is executed once per build, and the book is built from that run with
# execution off (tools/build_book.py): the page, its download and, under `make test`, what
# nbval checked come from one execution. `make test` lets nbval execute (conftest.py keeps
# each notebook as nbval ran it, --nbval-save); `make book` executes without checking.
# Every chapter appends a line to $RNNCOURSE_EXECUTION_LOG when it runs (record_device):
# build_book.py counts them, one per notebook, or fails.
EXECUTED := _build/executed
# A hung unit test (a deadlocked worker, say) fails `make test` instead of holding CI for hours.
UNIT_TIMEOUT := 2400
EXECUTION_LOG := _build/executions.log

book: $(STAMP)
	rm -f $(EXECUTION_LOG); mkdir -p _build
	RNNCOURSE_EXECUTION_LOG=$(abspath $(EXECUTION_LOG)) \
		$(BIN)/python tools/execute_notebooks.py --out $(EXECUTED) book/*.ipynb
	$(BIN)/python tools/build_book.py --executed $(EXECUTED) --execution-log $(EXECUTION_LOG)

# The browser test (tools/browser_test.py) reads the built pages in headless Chromium.
# Exit status 2 means no Chromium was found: locally that is a loud skip, with CI=true a
# failure (the script decides; .ci/run installs chromium first when it can).
# The notebooks run alone (their run times are the Execution statistics page's); the unit
# tests then run beside the book build and the browser test, their report printed last.
test: $(STAMP)
	rm -f $(EXECUTION_LOG); mkdir -p _build
	RNNCOURSE_EXECUTION_LOG=$(abspath $(EXECUTION_LOG)) \
		$(BIN)/python -m pytest book --nbval-save $(EXECUTED)
	@echo "make test: the unit tests run beside the book build (report: _build/unit-tests.log)"
	@timeout -k 60 $(UNIT_TIMEOUT) $(BIN)/python -m pytest tests > _build/unit-tests.log 2>&1 & \
	unit=$$!; $(BIN)/python tools/build_book.py --executed $(EXECUTED) \
		--execution-log $(EXECUTION_LOG) && $(MAKE) --no-print-directory browser-test; \
	book=$$?; echo "make test: the unit tests' report (what is written, then as it comes)"; \
	tail -n +1 --pid=$$unit -f _build/unit-tests.log; wait $$unit; unit=$$?; \
	if [ $$book -ne 0 ]; then echo "make test: the book build or browser test FAILED"; fi; \
	if [ $$unit -eq 124 ] || [ $$unit -eq 137 ]; then \
		echo "make test: the unit tests ran past $(UNIT_TIMEOUT) s and were STOPPED"; fi; \
	if [ $$unit -ne 0 ]; then echo "make test: the unit tests FAILED"; fi; \
	exit $$(( book || unit ))

browser-test: $(STAMP)
	@$(BIN)/python tools/browser_test.py --html _build/html --screenshots _build/screenshots \
		--run $(EXECUTED)/run.json; \
	status=$$?; if [ $$status -eq 2 ]; then echo "make: the browser test was SKIPPED (no Chromium)"; exit 0; fi; \
	exit $$status

unit: $(STAMP)
	$(BIN)/python -m pytest tests

nbval: $(STAMP)
	$(BIN)/python -m pytest book --nbval-save $(EXECUTED)

# Re-execute every notebook in place (after changing the package), so the stored
# outputs that nbval compares against are current.
notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py book/*.ipynb

benchmark: $(STAMP)
	$(BIN)/python benchmarks/rnn_throughput.py

gpu-torch: $(STAMP)
	PIP_EXTRA_INDEX_URL= $(BIN)/python -m pip install -q --disable-pip-version-check "torch==$(TORCH_VERSION)+$(TORCH_CUDA)" \
		--index-url $(TORCH_INDEX) -c constraints.txt

# Fails at once, with the reason, where torch sees no GPU; see tools/gpu_test.sh for the steps.
gpu-test: $(STAMP)
	TORCH_CUDA=$(TORCH_CUDA) PYTHON_BIN=$(BIN)/python bash tools/gpu_test.sh

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch==' > constraints.new

clean:
	rm -rf _build

# Homework (homework/README.md): student notebooks and autograder zips for every assignment
# into _build/homework/<hw>/{student,autograder}; `make grade HW=hw01 SUBMISSIONS=dir/` grades
# a folder of submissions with `otter run` into _build/homework/<hw>/results/. otter run
# executes student code as you: use a machine without secrets (see homework/README.md).
HW_SOURCES := $(wildcard homework/hw*/hw*.ipynb)
HW ?=
SUBMISSIONS ?=
GRADE_TIMEOUT ?= 300

homework: $(STAMP)
	@for src in $(HW_SOURCES); do \
		hw=$$(basename $$src .ipynb); rm -rf _build/homework/$$hw/student _build/homework/$$hw/autograder; \
		echo "otter assign $$src -> _build/homework/$$hw"; \
		$(BIN)/otter assign $$src _build/homework/$$hw || exit 1; \
	done

grade: $(STAMP)
	@test -n "$(HW)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade HW=hw01 SUBMISSIONS=dir/"; exit 2; }
	@test -d _build/homework/$(HW)/autograder || $(MAKE) homework
	$(BIN)/python tools/grade.py $(HW) $(SUBMISSIONS) --timeout $(GRADE_TIMEOUT)
