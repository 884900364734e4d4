"""Shared fixtures for the notification tests."""

from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures
