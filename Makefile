# README command 1: `make demo`; command 2: `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14
# Test processes (pytest-xdist), one per core up to four; each has a database, a Redis database
# and a key prefix of its own (tests/isolation.py): TEST_REDIS_URL's database and the three
# below it are flushed. TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

.PHONY: install demo serve test test-embedded test-production lint services

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup --host $(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	$(PY) -m uvicorn csbot.asgi:application --host $(HOST) --port $(PORT) --no-access-log

# The whole suite twice: on the embedded default, then on PostgreSQL + Redis.
test: install services
	$(MAKE) --no-print-directory test-embedded test-production

test-embedded: install
	env -u DATABASE_URL -u REDIS_URL $(PYTEST)

test-production: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PYTEST)

services:
	@bash .ci/services

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
