# Each target bootstraps .venv on first use; later runs reuse it (the stamp tracks pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: preview test lint bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

preview: $(STAMP)
	$(BIN)/paybill-iac preview stacks/catalog

test: lint
	$(BIN)/python -m pytest -n 2

# ruff over everything; mypy over the three packages (the files and the strict model are set in
# pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check paybill_iac components policy_packs stacks tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
