# clipsearch developer tasks. `make test` and `make demo` set up .venv first when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup test test-unit lint format demo bench bench-scale eval docs screenshots clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-unit: setup
	$(BIN)/python -m pytest -q tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

eval: setup
	$(BIN)/python tools/dup_eval.py
	$(BIN)/python tools/category_eval.py

demo: setup
	$(BIN)/python tools/demo.py --home indexes

docs: setup
	$(BIN)/python -m clipsearch.cli.reference > docs/cli.md

screenshots: setup
	$(BIN)/python tools/screenshots.py

bench: setup
	$(BIN)/python tools/bench.py

bench-scale: setup
	$(BIN)/python tools/bench.py --scale

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find indexes -mindepth 1 ! -name README.md -exec rm -rf {} +
