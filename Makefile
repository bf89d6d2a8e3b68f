# Two entry points, both from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=77'
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/greenslot plan examples/nightly --out out/nightly --solver auto --time-limit 90

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python .ci/typecheck.py
	$(BIN)/python -m pytest -q

# The tests to run while working: no Slurm, Chromium or Dask, nothing that takes seconds
# (markers in pyproject.toml). About 40 s of CPU time; `make test` runs them all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not slurm and not chromium and not dask"

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy over the package as installed; see .ci/typecheck.py for why it is not plain `mypy`.
typecheck: $(STAMP)
	$(BIN)/python .ci/typecheck.py

clean:
	rm -rf $(VENV) out build
