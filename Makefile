# Two commands: `make run` (the app with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgres lint check venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: venv
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint check test-sqlite test-postgres

# The full run: at least 200 hypothesis examples per endpoint (tests/conftest.py profiles);
# a plain `pytest` uses the quick "dev" profile.
test-sqlite test-postgres: export HYPOTHESIS_PROFILE ?= ci

test-sqlite: venv
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo "=== Test suite on SQLite ==="
	$(BIN)/pytest $(PYTEST_ARGS)

# Row locks and real concurrency can only be proven on PostgreSQL: the same suite runs
# again there, on a throwaway cluster.
test-postgres: venv
	@echo "=== Test suite on PostgreSQL ==="
	tests/with_postgres.sh $(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles var test-artifacts
