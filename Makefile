# The two commands of the README:
#   make book   build the executed book into _build/html
#   make test   run every test: unit tests, nbval over every notebook, and the book build with -W
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

.PHONY: book test unit nbval notebooks benchmark install constraints clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/jupyter-book build . -W --keep-going

unit: $(STAMP)
	$(BIN)/python -m pytest tests

nbval: $(STAMP)
	$(BIN)/python -m pytest book

# Re-execute every notebook in place (after changing the package), so the stored
# outputs that nbval compares against are current.
notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py book/*.ipynb

benchmark: $(STAMP)
	$(BIN)/python benchmarks/rnn_throughput.py

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch==' > constraints.new

clean:
	rm -rf _build
