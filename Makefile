# po-sync: the README's commands. Needs only Python 3.11 and make; everything else goes into .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install test demo airflow bench sandbox lint requirements clean

help:
	@echo "make demo    set up, start the sandbox, run every flow through Airflow, write a JSON report"
	@echo "make test    set up and run the test suite"
	@echo "make airflow airflow standalone with the UI and the sandbox connections loaded"
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
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m po_sync_sandbox.demo

airflow: $(STAMP)
	$(BIN)/python -m po_sync_sandbox.standalone

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
