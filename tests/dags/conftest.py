"""Fixtures for tests that run DAGs through Airflow: a migrated metadata DB and a ledger of their own."""

from __future__ import annotations

import json
import pathlib

import pytest

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh Airflow metadata database (SQLite in the test AIRFLOW_HOME), made once per session."""
    from airflow.utils import db

    db.resetdb()
    return True


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def ledger_conn(tmp_path, monkeypatch):
    """Point ``po_sync_db`` at an empty SQLite ledger for this test and return that ledger."""
    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine

    path = tmp_path / "ledger.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_PO_SYNC_DB",
        json.dumps({"conn_type": "po_sync_ledger", "host": str(path), "extra": {"dialect": "sqlite"}}),
    )
    return Ledger(get_engine(f"sqlite:///{path}"))
