# Throughcare — `make run` to serve a demo, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL := $(or $(THROUGHCARE_TEST_POSTGRES_URL),$(if $(filter true,$(CI)),postgresql+psycopg://postgres@127.0.0.1:5432/test,))

.PHONY: install run migrate seed test test-sqlite test-postgres lint format openapi bench verify clean

install: $(STAMP)

# Reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/throughcare migrate
	$(BIN)/throughcare seed-demo --if-empty
	$(BIN)/throughcare serve --host 127.0.0.1 --port 8000

migrate: install
	$(BIN)/throughcare migrate

test: install lint test-sqlite test-postgres

test-sqlite: install
	$(BIN)/pytest

test-postgres: install
ifeq ($(PG_URL),)
	@echo "PostgreSQL pass skipped: set THROUGHCARE_TEST_POSTGRES_URL (CI=true uses postgresql+psycopg://postgres@127.0.0.1:5432/test)."
else
	THROUGHCARE_TEST_BACKEND=postgres THROUGHCARE_TEST_POSTGRES_URL=$(PG_URL) $(BIN)/pytest
endif

# Longer durability run: more kill -9 rounds, on SQLite and (when configured) PostgreSQL.
VERIFY_KILLS ?= 10
verify: install
	THROUGHCARE_DURABILITY_KILLS=$(VERIFY_KILLS) $(BIN)/pytest -s tests/durability
ifneq ($(PG_URL),)
	THROUGHCARE_DURABILITY_KILLS=$(VERIFY_KILLS) THROUGHCARE_TEST_BACKEND=postgres THROUGHCARE_TEST_POSTGRES_URL=$(PG_URL) $(BIN)/pytest -s tests/durability
endif

lint: install
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix app tests bench migrations
	$(BIN)/ruff format app tests bench migrations

openapi: install
	$(BIN)/python -m app.openapi_export openapi/openapi.json

# Synthetic worlds cached under var/bench/; QUICK=1 for 1k + 100k only (see docs/performance.md).
bench: install
	QUICK=$(QUICK) $(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
