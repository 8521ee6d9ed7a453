# Two commands: `make run` (the app with demo data) and `make test` (the whole suite).
# `make bench` measures performance (README, "Performance"); it is not part of `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=
# The settings default to DEBUG off (production); make's targets are development ones.
export DEBUG ?= true
# Its own port, so a benchmark and a test run on the same machine do not collide.
BENCH_PG_PORT ?= 54341

.PHONY: run test test-sqlite test-postgres bench lint check venv lock clean

venv: $(VENV)/.installed

# Locked install: every package, pip included, at the version and hashes of the lock, so two
# machines installing on different days run the same code (README, "Upgrading a dependency").
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

# Recompile the locks from requirements*.in (options in pyproject.toml, [tool.pip-tools]).
# Only the public index is consulted, so a local wheel cache or mirror cannot leak into them.
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null
lock: venv
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_ARGS) requirements.in -o requirements.txt
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_ARGS) requirements-dev.in -o requirements-dev.txt

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

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

# SQLite, then PostgreSQL on a throwaway cluster; each at scale 1 and 10 (about 10 minutes).
# wrk is installed with apt when missing and we are root; otherwise a threaded client loads.
bench: venv
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || true
	@echo "=== Benchmark on SQLite ==="
	$(BIN)/python manage.py bench $(BENCH_ARGS)
	@echo "=== Benchmark on PostgreSQL ==="
	PG_TEST_PORT=$(BENCH_PG_PORT) tests/with_postgres.sh $(BIN)/python manage.py bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles var test-artifacts
