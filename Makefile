# Every target sets itself up: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snavc validate samples/seed

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check snavc tests
	$(BIN)/ruff format --check snavc tests

schemas: $(STAMP)
	$(BIN)/snavc schema -o schemas/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
