# Linli — the README's commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask
STAMP  := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := manage.py

.PHONY: run test test-sqlite test-postgres bench fuzz install migrate demo jobs clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load

# The API and the scheduler together on the embedded SQLite database; Ctrl-C stops both.
run: demo
	@echo "Linli API on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	@$(FLASK) jobs run & jobs_pid=$$!; \
	  trap 'kill $$jobs_pid 2>/dev/null; wait $$jobs_pid 2>/dev/null' INT TERM EXIT; \
	  $(FLASK) run --host $(HOST) --port $(PORT) --no-reload --with-threads

# The whole suite on SQLite, then again on PostgreSQL when one is reachable
# (with CI=true it must be). "No tests collected" is a failure, not a pass.
# Each pass first runs `flask db check` on a fresh database migrated to head:
# a model changed without its migration fails the target.
test: $(STAMP)
	@$(MAKE) --no-print-directory test-sqlite
	@if $(PY) -m tests.pg_available "$(PG_TEST_URL)"; then \
	  $(MAKE) --no-print-directory test-postgres; \
	elif [ "$$CI" = "true" ]; then \
	  echo "CI=true but PostgreSQL is not reachable at $(PG_TEST_URL)"; exit 1; \
	else \
	  echo "PostgreSQL not reachable at $(PG_TEST_URL): the PostgreSQL pass did not run"; \
	fi

test-sqlite: $(STAMP)
	@echo "== models against migrations on SQLite =="
	@$(PY) -m tests.schema_check
	@echo "== tests on SQLite =="
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi; exit $$rc

test-postgres: $(STAMP)
	@echo "== models against migrations on PostgreSQL =="
	@$(PY) -m tests.schema_check "$(PG_TEST_URL)"
	@echo "== tests on PostgreSQL =="
	@TEST_DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(PY) -m bench.run

# schemathesis over every operation of a running server, as staff and as resident (FUZZ_DATABASE_URL for PostgreSQL).
fuzz: $(STAMP)
	$(PY) -m bench.fuzz

jobs: migrate
	$(FLASK) jobs run

clean:
	rm -rf $(VENV) instance .pytest_cache
