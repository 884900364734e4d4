# po-sync: the README's commands. Needs only Python 3.11 and make; everything else goes into .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test's worker processes (pytest-xdist); 0 runs the suite in this one process
PYTEST_WORKERS ?= 4

.PHONY: help install test demo airflow stop bench sandbox lint requirements clean

help:
	@echo "make demo    set up, start the sandbox, run every flow through Airflow, write a JSON report"
	@echo "make test    set up and run the test suite"
	@echo "make airflow a local Airflow (UI, scheduler...) with the sandbox world ready; PO_SYNC_UNPAUSE=1 unpauses"
	@echo "make stop    stop what make airflow started (from another shell)"
	@echo "make bench   run the benchmarks (JSON lines)"
	@echo "make sandbox start the sandbox in the foreground (Ctrl-C stops it)"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: po-sync needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m po_sync_sandbox.demo

airflow: $(STAMP)
	$(BIN)/python -m po_sync_sandbox.standalone

stop:
	@test -x $(BIN)/python || { echo "nothing to stop (no $(VENV))"; exit 0; }
	$(BIN)/python -m po_sync_sandbox.standalone --stop

bench: $(STAMP)
	$(BIN)/python -m bench

sandbox: $(STAMP)
	$(BIN)/po-sync-sandbox up --foreground

lint: $(STAMP)
	$(BIN)/ruff check plugins dags include tests bench
	$(BIN)/ruff format --check plugins dags include tests bench
	$(BIN)/mypy plugins/po_sync

requirements:
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --python-version 3.11 requirements.in -o requirements.txt

clean:
	rm -rf $(VENV) .airflow_* .sandbox
