"""Shared fixtures for the UI tests."""

from tests.dags.conftest import airflow_db  # noqa: F401 - tokens are checked against its revoked_token table
