# Every target sets itself up: a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test tool-test lint schemas bench clean editor-test fuzz

# setup.py builds the C line scanner (snavc/engine/_scan.c): a change to it reinstalls
$(STAMP): pyproject.toml setup.py snavc/engine/_scan.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snavc validate samples/seed
	$(BIN)/snavc build samples/seed -o build/seed
	@echo "--- B4: boxes Stéphanie may pick at Client 1 Site 2"
	$(BIN)/snavc query selectable samples/seed --as stephanie --at client1-site2 --kind box
	@echo "--- V7: service templates François sees at Client 1 (managed)"
	$(BIN)/snavc query selectable samples/seed --as francois --at client1 --kind service-template
	@echo "--- L3: may Stéphanie edit François's equipment on the partner's shared box? (exit 1: no)"
	@$(BIN)/snavc query can-edit samples/seed --as stephanie srv-web-01 || echo "(exit $$?: not editable)"
	@echo "--- P3: where srv-web-01's check period comes from"
	$(BIN)/snavc explain samples/seed srv-web-01.periods.check

test: $(STAMP)
	$(BIN)/python -m pytest

# the tests that drive real tools (pre-commit try-repo: installs snavc in a fresh
# virtualenv from PyPI, about a minute); CI runs them (.ci/run)
tool-test: $(STAMP)
	$(BIN)/python -m pytest -m tools

# schemas/snavc.json in the real yaml-language-server (tests/test_editor.py): needs node
# and npm; the server is installed once into .cache/editor-test/ (pinned version).
YLS_VERSION := 2.0.0
YLS := .cache/editor-test/node_modules/yaml-language-server/bin/yaml-language-server
$(YLS):
	npm install --silent --no-audit --no-fund --prefix .cache/editor-test yaml-language-server@$(YLS_VERSION)

editor-test: $(STAMP) $(YLS)
	SNAVC_YLS=$(CURDIR)/$(YLS) $(BIN)/python -m pytest tests/test_editor.py

# The property-based suite (tests/fuzz/) with random examples for FUZZ_MINUTES (default
# 10); failures are kept in .hypothesis/ and replayed first the next time.
fuzz: $(STAMP)
	FUZZ_MINUTES=$${FUZZ_MINUTES:-10} $(BIN)/python -m pytest tests/fuzz -x

lint: $(STAMP)
	$(BIN)/ruff check snavc tests
	$(BIN)/ruff format --check snavc tests

# Estates (and their Nagios 4 equivalents) are generated once into .bench/ and kept;
# results go to bench/results.md. nagios4-core is installed when missing and the machine
# allows it (root or sudo -n, apt); SNAVC_BENCH_NAGIOS=0 leaves the peer out.
bench: $(STAMP)
	$(BIN)/python -m snavc.bench run --sizes $${SIZES:-1000,10000,100000} --rounds $${ROUNDS:-1}

schemas: $(STAMP)
	$(BIN)/snavc schema -o schemas/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
